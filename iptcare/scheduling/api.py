"""Appointments, attendance, group sessions and the therapist's week over the JSON API."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router
from ninja.responses import Status

from iptcare.accounts.models import User
from iptcare.clients.selectors import client_get
from iptcare.core.errors import InvalidInput, NotFound
from iptcare.core.models import Program
from iptcare.scheduling import selectors, services
from iptcare.scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from iptcare.scheduling.schemas import (
    AppointmentOut,
    AppointmentRescheduleIn,
    AppointmentScheduleIn,
    AttendanceCorrectionIn,
    AttendanceIn,
    CancelIn,
    GroupAttendanceIn,
    GroupSessionIn,
    GroupSessionOut,
    RosterAddIn,
    WeekAppointmentOut,
    WeekDayOut,
    WeekOut,
)

router = Router(tags=["scheduling"])


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _staff(actor: User, public_id: UUID, field: str) -> User:
    """A member of the actor's organisation, or a field error."""
    try:
        return selectors.clinician_get(actor=actor, public_id=public_id)
    except NotFound as exc:
        raise InvalidInput(
            "Unknown member of staff.", field_errors={field: ["No such member of staff."]}
        ) from exc


@router.get(
    "/clients/{client_id}/appointments",
    response=list[AppointmentOut],
    summary="A client's appointments, newest first",
)
def client_appointments(
    request: HttpRequest, client_id: UUID, limit: int = 100
) -> list[AppointmentOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    rows = selectors.client_timeline_appointments(
        actor=actor, client=client, limit=max(1, min(limit, 500))
    )
    for row in rows:
        row.client = client
        row.program = client.program if row.program_id == client.program_id else row.program
    return [AppointmentOut.of(a) for a in rows]


@router.post(
    "/clients/{client_id}/appointments",
    response={201: AppointmentOut},
    summary="Schedule an appointment",
)
def appointment_schedule(
    request: HttpRequest, client_id: UUID, payload: AppointmentScheduleIn
) -> Status[AppointmentOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    appointment = services.appointment_schedule(
        actor=actor,
        client=client,
        clinician=_staff(actor, payload.clinician, "clinician"),
        kind=payload.kind,
        starts_at=payload.starts_at,
        duration_minutes=payload.duration_minutes,
        modality=payload.modality or "",
        location=payload.location,
        is_telehealth=payload.is_telehealth,
    )
    return Status(201, AppointmentOut.of(appointment))


@router.get("/appointments/{appointment_id}", response=AppointmentOut, summary="One appointment")
def appointment_detail(request: HttpRequest, appointment_id: UUID) -> AppointmentOut:
    return AppointmentOut.of(
        selectors.appointment_get(actor=_actor(request), public_id=appointment_id)
    )


@router.post(
    "/appointments/{appointment_id}/reschedule",
    response=AppointmentOut,
    summary="Move a scheduled appointment (409 on a stale version)",
)
def appointment_reschedule(
    request: HttpRequest, appointment_id: UUID, payload: AppointmentRescheduleIn
) -> AppointmentOut:
    actor = _actor(request)
    appointment = selectors.appointment_get(actor=actor, public_id=appointment_id)
    clinician = _staff(actor, payload.clinician, "clinician") if payload.clinician else None
    updated = services.appointment_reschedule(
        actor=actor,
        appointment=appointment,
        version=payload.version,
        starts_at=payload.starts_at,
        duration_minutes=payload.duration_minutes,
        clinician=clinician,
    )
    return AppointmentOut.of(_with_relations(updated, appointment))


@router.post(
    "/appointments/{appointment_id}/attendance",
    response=AppointmentOut,
    summary="Record attended, attended late or no-show",
)
def appointment_attendance(
    request: HttpRequest, appointment_id: UUID, payload: AttendanceIn
) -> AppointmentOut:
    actor = _actor(request)
    appointment = selectors.appointment_get(actor=actor, public_id=appointment_id)
    updated = services.appointment_record_attendance(
        actor=actor,
        appointment=appointment,
        status=payload.status,
        modality=payload.modality or "",
        version=payload.version,
    )
    return AppointmentOut.of(_with_relations(updated, appointment))


@router.post(
    "/appointments/{appointment_id}/attendance-correction",
    response=AppointmentOut,
    summary="Correct recorded attendance, with a reason (409 on a stale version)",
)
def appointment_attendance_correction(
    request: HttpRequest, appointment_id: UUID, payload: AttendanceCorrectionIn
) -> AppointmentOut:
    actor = _actor(request)
    appointment = selectors.appointment_get(actor=actor, public_id=appointment_id)
    updated = services.appointment_correct_attendance(
        actor=actor,
        appointment=appointment,
        status=payload.status,
        modality=payload.modality or "",
        reason=payload.reason,
        version=payload.version,
    )
    return AppointmentOut.of(_with_relations(updated, appointment))


@router.post("/appointments/{appointment_id}/cancel", response=AppointmentOut, summary="Cancel")
def appointment_cancel(
    request: HttpRequest, appointment_id: UUID, payload: CancelIn
) -> AppointmentOut:
    actor = _actor(request)
    appointment = selectors.appointment_get(actor=actor, public_id=appointment_id)
    status = (
        AppointmentStatus.CANCELLED_CLIENT
        if payload.cancelled_by == "client"
        else AppointmentStatus.CANCELLED_PROGRAM
    )
    updated = services.appointment_cancel(
        actor=actor,
        appointment=appointment,
        status=status,
        reason=payload.reason,
        version=payload.version,
    )
    return AppointmentOut.of(_with_relations(updated, appointment))


def _with_relations(updated: Appointment, loaded: Appointment) -> Appointment:
    """The service returns a freshly locked row; reuse what the selector already loaded."""
    for name in ("program", "group_session"):
        setattr(updated, name, getattr(loaded, name))
    return updated


@router.post("/group-sessions", response={201: GroupSessionOut}, summary="Create a group session")
def group_session_create(request: HttpRequest, payload: GroupSessionIn) -> Status[GroupSessionOut]:
    actor = _actor(request)
    program = (
        Program.objects.select_related("organisation")
        .filter(public_id=payload.program, organisation_id=actor.organisation_id or 0)
        .first()
    )
    if program is None:
        raise InvalidInput("Unknown program.", field_errors={"program": ["No such program."]})
    session = services.group_session_create(
        actor=actor,
        program=program,
        title=payload.title,
        facilitator=_staff(actor, payload.facilitator, "facilitator"),
        co_facilitators=[_staff(actor, u, "co_facilitators") for u in payload.co_facilitators],
        starts_at=payload.starts_at,
        duration_minutes=payload.duration_minutes,
        modality=payload.modality,
        location=payload.location,
        is_telehealth=payload.is_telehealth,
    )
    return Status(201, GroupSessionOut.of(session, []))


@router.get(
    "/group-sessions/{session_id}", response=GroupSessionOut, summary="A group session and roster"
)
def group_session_detail(request: HttpRequest, session_id: UUID) -> GroupSessionOut:
    actor = _actor(request)
    session = selectors.group_session_get(actor=actor, public_id=session_id)
    return GroupSessionOut.of(session, selectors.group_roster(actor=actor, session=session))


@router.post(
    "/group-sessions/{session_id}/roster",
    response={201: AppointmentOut},
    summary="Add a client to the roster",
)
def group_roster_add(
    request: HttpRequest, session_id: UUID, payload: RosterAddIn
) -> Status[AppointmentOut]:
    actor = _actor(request)
    session = selectors.group_session_get(actor=actor, public_id=session_id)
    client = client_get(actor=actor, public_id=payload.client)
    seat = services.group_roster_add(actor=actor, session=session, client=client)
    return Status(201, AppointmentOut.of(seat))


@router.delete(
    "/group-sessions/{session_id}/roster/{client_id}",
    response={204: None},
    summary="Take a client off the roster",
)
def group_roster_remove(request: HttpRequest, session_id: UUID, client_id: UUID) -> Status[None]:
    actor = _actor(request)
    session = selectors.group_session_get(actor=actor, public_id=session_id)
    client = client_get(actor=actor, public_id=client_id)
    services.group_roster_remove(actor=actor, session=session, client=client)
    return Status(204, None)


@router.post(
    "/group-sessions/{session_id}/attendance",
    response=GroupSessionOut,
    summary="Record attendance per attendee",
)
def group_attendance(
    request: HttpRequest, session_id: UUID, payload: GroupAttendanceIn
) -> GroupSessionOut:
    actor = _actor(request)
    session = selectors.group_session_get(actor=actor, public_id=session_id)
    attendance = {a.client: a.status for a in payload.attendees}
    if len(attendance) != len(payload.attendees):
        raise InvalidInput(
            "A client is listed twice.", field_errors={"attendees": ["A client is listed twice."]}
        )
    services.group_record_attendance(
        actor=actor, session=session, attendance=attendance, modality=payload.modality or ""
    )
    return GroupSessionOut.of(session, selectors.group_roster(actor=actor, session=session))


@router.get("/schedule/week", response=WeekOut, summary="A clinician's week (default: mine)")
def week(
    request: HttpRequest,
    clinician: UUID | None = Query(None),  # noqa: B008
    start: date | None = Query(None),  # noqa: B008
) -> WeekOut:
    actor = _actor(request)
    who = selectors.clinician_get(actor=actor, public_id=clinician) if clinician else actor
    week_start = start or selectors.week_start_of(timezone.localdate())
    the_week = selectors.therapist_week(actor=actor, clinician=who, week_start=week_start)
    return WeekOut(
        clinician=who.public_id,
        week_start=the_week.week_start,
        programs=[p.public_id for p in the_week.programs],
        days=[
            WeekDayOut(
                day=d.day,
                appointments=[
                    WeekAppointmentOut(
                        id=a.public_id,
                        client=a.client.public_id,
                        client_display_name=a.client.display_name,
                        kind=AppointmentKind(a.kind),
                        starts_at=a.starts_at,
                        duration_minutes=a.duration_minutes,
                        status=AppointmentStatus(a.status),
                        group_session=a.group_session.public_id if a.group_session else None,
                    )
                    for a in d.appointments
                ],
            )
            for d in the_week.days
        ],
    )
