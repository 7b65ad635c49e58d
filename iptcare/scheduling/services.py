"""Every write to appointments and group sessions.

Shape (STYLE.md): keyword-only, ``actor`` first, one ``writing`` block — the access decision
first (a refusal is recorded and changes nothing), then one transaction that locks the row,
checks the rules (a bad input is recorded as the write's failure), ``full_clean()``s, saves,
keeps the record's history and ends with the write's one audit event, which names what changed
(fields and versions, never their content).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from iptcare.access.policy import Grant, check, decide, writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client, RecordRevision
from iptcare.core.errors import Conflict, DomainError, InvalidInput
from iptcare.core.models import Program
from iptcare.scheduling.models import (
    ATTENDANCE_CORRECTION_REASON_MAX,
    ATTENDANCE_OUTCOMES,
    ATTENDED_STATUSES,
    CANCELLED_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    GroupSession,
)

# A walk-in seen this morning may still be entered this afternoon.
SCHEDULE_GRACE = timedelta(hours=24)
CATEGORY = DataCategory.CLINICAL_RECORD
PURPOSE = Purpose.TREATMENT


class InvalidTransition(DomainError):
    """The appointment's current status does not allow this change."""

    status = 409
    title = "Invalid transition"


# --- helpers ------------------------------------------------------------------------------------


def _snapshot(appointment: Appointment) -> dict[str, Any]:
    return {
        "status": appointment.status,
        "starts_at": appointment.starts_at.isoformat(),
        "duration_minutes": appointment.duration_minutes,
        "clinician": str(appointment.clinician.public_id),
        "kind": appointment.kind,
        "modality": appointment.modality,
        "location": appointment.location,
        "is_telehealth": appointment.is_telehealth,
        "cancellation_reason": appointment.cancellation_reason,
        "attendance_recorded_by": (
            str(appointment.attendance_recorded_by.public_id)
            if appointment.attendance_recorded_by is not None
            else None
        ),
        "attendance_recorded_at": (
            appointment.attendance_recorded_at.isoformat()
            if appointment.attendance_recorded_at is not None
            else None
        ),
        "version": appointment.version,
    }


def _keep_history(
    *,
    grant: Grant,
    actor: User,
    appointment: Appointment,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    why: str = "",
) -> None:
    """Keep the appointment's history and say in the write's audit event what changed.

    The state before the change (with ``why``, the clinician's own words for a correction) goes
    to the record's history (``RecordRevision``), like every other clinical record's: the audit
    trail, which administrators read, says who changed which fields and the version, never the
    content (locations, cancellation and correction reasons)."""
    if before is not None:
        RecordRevision.objects.create(
            organisation_id=appointment.organisation_id,
            client_id=appointment.client_id,
            resource_type="appointment",
            resource_id=appointment.public_id,
            version=before["version"],
            snapshot=before,
            changed_by=actor,
            reason=why,
        )
    changed = sorted(
        key
        for key in (after or before or {})
        if key != "version" and (before or {}).get(key) != (after or {}).get(key)
    )
    grant.detail["version"] = (after or before or {}).get("version")
    grant.detail["changed"] = changed if before is not None and after is not None else []


def _full_clean(obj: Appointment | GroupSession, *, exclude: Iterable[str] = ()) -> None:
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        errors = {
            field if field != "__all__" else "non_field_errors": [str(m) for m in messages]
            for field, messages in exc.message_dict.items()
        }
        raise InvalidInput("Some fields are invalid.", field_errors=errors) from exc


def _raise_if(errors: dict[str, list[str]], message: str = "Some fields are invalid.") -> None:
    if errors:
        raise InvalidInput(message, field_errors=errors)


def clinician_problems(clinician: User, client_or_session: Client | GroupSession) -> list[str]:
    """Why ``clinician`` may not see this client or run this group (empty: they may).

    A clinician is staff of the same organisation, active, assigned to the program and holds a
    role that may see the client for treatment: the access policy's program scope, asked as
    the clinician (``decide`` is pure; nothing is audited).
    """
    scope = client_or_session.access_scope
    if clinician.organisation_id != scope.organisation_id:
        return ["Not a member of staff of this organisation."]
    if not clinician.is_active:
        return ["This staff account is deactivated."]
    if scope.program_id not in clinician.program_ids:
        return ["Not assigned to this program."]
    if not decide(
        clinician, Action.VIEW, client_or_session, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    ):
        return ["Does not hold a treating role in this program."]
    return []


def _check_start(starts_at: datetime, field: str = "starts_at") -> dict[str, list[str]]:
    if timezone.is_naive(starts_at):
        return {field: ["Give a date and time with a time zone."]}
    if starts_at < timezone.now() - SCHEDULE_GRACE:
        return {field: ["An appointment cannot be scheduled in the past."]}
    return {}


def _lock(appointment: Appointment, version: int | None) -> Appointment:
    locked = (
        Appointment.objects.select_for_update()
        .select_related("organisation", "client__organisation", "clinician")
        .get(pk=appointment.pk)
    )
    if version is not None and locked.version != version:
        raise Conflict(
            "Someone else changed this appointment since you opened it. Reload to see their change."
        )
    return locked


def _require_scheduled(appointment: Appointment, doing: str) -> None:
    if appointment.status != AppointmentStatus.SCHEDULED:
        raise InvalidTransition(
            f"Cannot {doing}: this appointment is already "
            f"'{appointment.get_status_display().lower()}'.",
            field_errors={"status": ["Only a scheduled appointment can be changed this way."]},
        )


def _require_attendance_recorded(appointment: Appointment) -> None:
    if appointment.status not in ATTENDANCE_OUTCOMES:
        raise InvalidTransition(
            "Cannot correct attendance: no attendance is recorded for this appointment (it is "
            f"'{appointment.get_status_display().lower()}').",
            field_errors={
                "status": [
                    "Only recorded attendance (attended, attended late or no-show) can be "
                    "corrected."
                ]
            },
        )


def attendance_problems(
    appointment: Appointment, status: str, modality: str, *, now: datetime
) -> dict[str, list[str]]:
    """The rules of recording attendance, as field errors (empty: allowed)."""
    if status not in ATTENDANCE_OUTCOMES:
        return {"status": ["Choose attended, attended late or no-show."]}
    errors: dict[str, list[str]] = {}
    if appointment.starts_at > now:
        errors["status"] = ["This appointment has not started yet."]
    if status in ATTENDED_STATUSES and not (modality or appointment.modality):
        errors["modality"] = ["Say which modality was delivered."]
    return errors


# --- appointments -------------------------------------------------------------------------------


def appointment_schedule(
    *,
    actor: User,
    client: Client,
    clinician: User,
    kind: str,
    starts_at: datetime,
    duration_minutes: int,
    modality: str = "",
    location: str = "",
    is_telehealth: bool = False,
) -> Appointment:
    """Book an individual (non-group) appointment for ``client`` with ``clinician``."""
    with writing(
        actor, Action.CREATE, client, CATEGORY, PURPOSE, detail={"appointment": "schedule"}
    ) as grant:
        errors = _check_start(starts_at)
        if kind == AppointmentKind.GROUP:
            errors["kind"] = [
                "Group appointments are made by adding the client to a group session."
            ]
        if problems := clinician_problems(clinician, client):
            errors["clinician"] = problems
        _raise_if(errors)
        appointment = Appointment(
            organisation=client.organisation,
            program=client.program,
            client=client,
            clinician=clinician,
            kind=kind,
            modality=modality,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            location=location,
            is_telehealth=is_telehealth,
        )
        _full_clean(appointment)
        appointment.save()
        _keep_history(
            grant=grant,
            actor=actor,
            appointment=appointment,
            before=None,
            after=_snapshot(appointment),
        )
        grant.record_as(appointment)
    return appointment


def appointment_reschedule(
    *,
    actor: User,
    appointment: Appointment,
    version: int,
    starts_at: datetime,
    duration_minutes: int | None = None,
    clinician: User | None = None,
) -> Appointment:
    """Move a scheduled appointment (and maybe change its length or clinician).

    A stale ``version`` is a ``Conflict`` (409).
    """
    with writing(
        actor, Action.UPDATE, appointment, CATEGORY, PURPOSE, detail={"appointment": "reschedule"}
    ) as grant:
        locked = _lock(appointment, version)
        _require_scheduled(locked, "reschedule")
        errors = _check_start(starts_at)
        if locked.group_session_id is not None:
            errors["starts_at"] = ["A group appointment moves with its group session."]
        if clinician is not None and (problems := clinician_problems(clinician, locked.client)):
            errors["clinician"] = problems
        _raise_if(errors)
        before = _snapshot(locked)
        locked.starts_at = starts_at
        if duration_minutes is not None:
            locked.duration_minutes = duration_minutes
        if clinician is not None:
            locked.clinician = clinician
        locked.version += 1
        _full_clean(locked)
        locked.save()
        _keep_history(
            grant=grant, actor=actor, appointment=locked, before=before, after=_snapshot(locked)
        )
    return locked


def _apply_attendance(
    *,
    grant: Grant,
    actor: User,
    locked: Appointment,
    status: str,
    modality: str,
    now: datetime,
    why: str = "",
) -> None:
    """Set the outcome on the locked row, keep its history with ``why`` (a correction's own
    words), name the outcome in the write's event and let the no-show rule look again.
    Recording and correcting both come through here."""
    before = _snapshot(locked)
    locked.status = status
    if modality:
        locked.modality = modality
    locked.attendance_recorded_by = actor
    locked.attendance_recorded_at = now
    locked.version += 1
    _full_clean(locked)
    locked.save()
    grant.detail["status"] = status
    _keep_history(
        grant=grant,
        actor=actor,
        appointment=locked,
        before=before,
        after=_snapshot(locked),
        why=why,
    )
    if status == AppointmentStatus.NO_SHOW:
        # Two or more consecutive no-shows raise an alert (measures owns the alert rules).
        from iptcare.measures.alerts import evaluate_attendance

        evaluate_attendance(client=locked.client)


def appointment_record_attendance(
    *,
    actor: User,
    appointment: Appointment,
    status: str,
    modality: str = "",
    version: int | None = None,
) -> Appointment:
    """Record attended / late / no-show, once, for a scheduled appointment that has started."""
    with writing(
        actor,
        Action.UPDATE,
        appointment,
        CATEGORY,
        PURPOSE,
        detail={"appointment": "record attendance"},
    ) as grant:
        now = timezone.now()
        locked = _lock(appointment, version)
        _require_scheduled(locked, "record attendance")
        _raise_if(attendance_problems(locked, status, modality, now=now))
        _apply_attendance(
            grant=grant, actor=actor, locked=locked, status=status, modality=modality, now=now
        )
    return locked


def appointment_correct_attendance(
    *,
    actor: User,
    appointment: Appointment,
    status: str,
    modality: str = "",
    reason: str,
    version: int,
) -> Appointment:
    """Correct attendance that was recorded wrongly (a no-show that was attended, …), with a reason.

    Only for an appointment whose attendance is recorded (attended, late, no-show; a scheduled or
    cancelled one is an ``InvalidTransition``), to another outcome or another modality, under
    the rules of recording. Nothing is overwritten: the recording's change event stays, the
    correction appends its own, and the appointment's history keeps the row as it was with the
    reason (``RecordRevision``; the audit trail gets no free text). A correction to no-show
    runs the consecutive no-shows rule as recording does; a correction away from a no-show
    resolves the open no-show alert if the run no longer stands (named in the correction's one
    audit event). A stale ``version`` is a ``Conflict``.
    """
    with writing(
        actor,
        Action.UPDATE,
        appointment,
        CATEGORY,
        PURPOSE,
        detail={"appointment": "correct attendance"},
    ) as grant:
        reason = reason.strip()
        errors: dict[str, list[str]] = {}
        if not reason:
            errors["reason"] = ["Say why the recorded attendance is wrong."]
        elif len(reason) > ATTENDANCE_CORRECTION_REASON_MAX:
            errors["reason"] = [
                f"Keep the reason to {ATTENDANCE_CORRECTION_REASON_MAX} characters or fewer."
            ]
        now = timezone.now()
        locked = _lock(appointment, version)
        _require_attendance_recorded(locked)
        problems = attendance_problems(locked, status, modality, now=now)
        if not problems and status == locked.status and modality in {"", locked.modality}:
            problems["status"] = [
                "This is what is recorded already: choose another outcome or modality."
            ]
        _raise_if({**problems, **errors})
        was_no_show = locked.status == AppointmentStatus.NO_SHOW
        _apply_attendance(
            grant=grant,
            actor=actor,
            locked=locked,
            status=status,
            modality=modality,
            now=now,
            why=reason,
        )
        if was_no_show and status != AppointmentStatus.NO_SHOW:
            from iptcare.measures.services import no_show_alert_reconsider

            no_show_alert_reconsider(actor=actor, client=locked.client, reason=reason)
    return locked


def appointment_cancel(
    *,
    actor: User,
    appointment: Appointment,
    status: str,
    reason: str,
    version: int | None = None,
) -> Appointment:
    """Cancel a scheduled appointment, by the client or by the program, with a reason."""
    with writing(
        actor, Action.UPDATE, appointment, CATEGORY, PURPOSE, detail={"appointment": "cancel"}
    ) as grant:
        errors: dict[str, list[str]] = {}
        if status not in CANCELLED_STATUSES:
            errors["status"] = ["Say whether the client or the program cancelled."]
        if not reason.strip():
            errors["cancellation_reason"] = ["Give the reason for the cancellation."]
        _raise_if(errors)
        locked = _lock(appointment, version)
        _require_scheduled(locked, "cancel")
        before = _snapshot(locked)
        locked.status = status
        locked.cancellation_reason = reason.strip()
        locked.attendance_recorded_by = actor
        locked.attendance_recorded_at = timezone.now()
        locked.version += 1
        _full_clean(locked)
        locked.save()
        grant.detail["status"] = status
        _keep_history(
            grant=grant, actor=actor, appointment=locked, before=before, after=_snapshot(locked)
        )
    return locked


# --- group sessions -----------------------------------------------------------------------------


def group_session_create(
    *,
    actor: User,
    program: Program,
    title: str,
    facilitator: User,
    starts_at: datetime,
    duration_minutes: int,
    modality: str,
    location: str = "",
    is_telehealth: bool = False,
    co_facilitators: Iterable[User] = (),
) -> GroupSession:
    session = GroupSession(
        organisation=program.organisation,
        program=program,
        title=title.strip(),
        facilitator=facilitator,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        modality=modality,
        location=location,
        is_telehealth=is_telehealth,
    )
    with writing(
        actor, Action.CREATE, session, CATEGORY, PURPOSE, detail={"group_session": "create"}
    ) as grant:
        errors = _check_start(starts_at)
        if problems := clinician_problems(facilitator, session):
            errors["facilitator"] = problems
        co = list(co_facilitators)
        for person in co:
            if problems := clinician_problems(person, session):
                errors.setdefault("co_facilitators", []).append(
                    f"{person.full_name}: {problems[0]}"
                )
        _raise_if(errors)
        _full_clean(session)
        session.save()
        session.co_facilitators.set(co)
        # Ids and the time, not the title (free text).
        grant.detail.update(
            program=str(program.public_id),
            starts_at=starts_at.isoformat(),
            facilitator=str(facilitator.public_id),
        )
    return session


def group_roster_add(*, actor: User, session: GroupSession, client: Client) -> Appointment:
    """Enrol ``client`` in the session: one group appointment, with the facilitator."""
    with writing(
        actor,
        Action.CREATE,
        client,
        CATEGORY,
        PURPOSE,
        detail={"appointment": "add to group roster", "group_session": str(session.public_id)},
    ) as grant:
        errors: dict[str, list[str]] = {}
        if (
            client.organisation_id != session.organisation_id
            or client.program_id != session.program_id
        ):
            errors["client"] = ["The client is not in this group's program."]
        elif Appointment.objects.filter(group_session=session, client=client).exists():
            errors["client"] = ["The client is already on this group's roster."]
        if not errors and (problems := clinician_problems(session.facilitator, client)):
            errors["client"] = [f"The facilitator cannot see this client: {problems[0]}"]
        _raise_if(errors)
        appointment = Appointment(
            organisation=session.organisation,
            program=session.program,
            client=client,
            clinician=session.facilitator,
            kind=AppointmentKind.GROUP,
            modality=session.modality,
            starts_at=session.starts_at,
            duration_minutes=session.duration_minutes,
            location=session.location,
            is_telehealth=session.is_telehealth,
            group_session=session,
        )
        # The roster seat's uniqueness is the database's job (a concurrent add races the check).
        _full_clean(appointment, exclude=["group_session"])
        try:
            appointment.save()
        except IntegrityError as exc:
            raise InvalidInput(
                "The client is already on this group's roster.",
                field_errors={"client": ["The client is already on this group's roster."]},
            ) from exc
        _keep_history(
            grant=grant,
            actor=actor,
            appointment=appointment,
            before=None,
            after=_snapshot(appointment),
        )
        grant.record_as(appointment)
    return appointment


def group_roster_remove(*, actor: User, session: GroupSession, client: Client) -> None:
    """Take a client off the roster. Only while nothing is recorded for their seat."""
    appointment = (
        Appointment.objects.select_related("organisation", "client", "clinician")
        .filter(group_session=session, client=client)
        .first()
    )
    with writing(
        actor,
        Action.UPDATE,
        appointment or client,
        CATEGORY,
        PURPOSE,
        detail={
            "appointment": "remove from group roster",
            "group_session": str(session.public_id),
        },
    ) as grant:
        if appointment is None:
            raise InvalidInput(
                "The client is not on this group's roster.",
                field_errors={"client": ["The client is not on this group's roster."]},
            )
        locked = _lock(appointment, None)
        _require_scheduled(locked, "remove from the roster")
        before = _snapshot(locked)
        locked.delete()
        # The seat never happened; its history keeps what it was.
        _keep_history(grant=grant, actor=actor, appointment=appointment, before=before, after=None)


def group_record_attendance(
    *,
    actor: User,
    session: GroupSession,
    attendance: Mapping[UUID, str],
    modality: str = "",
) -> list[Appointment]:
    """Record attendance for several attendees at once (client public id → status).

    All or nothing: one refused entry refuses the lot, with the client's id as the field. One
    write of the session, whose audit event names each seat's recording (``detail["also"]``):
    every seat is decided before any is looked at, and a refusal of one refuses the lot.
    """
    with writing(
        actor,
        Action.UPDATE,
        session,
        CATEGORY,
        PURPOSE,
        detail={"group_session": "record attendance"},
    ):
        seats = {
            a.client.public_id: a
            for a in Appointment.objects.select_related(
                "organisation", "client", "clinician"
            ).filter(group_session=session, client__public_id__in=list(attendance))
        }
        unknown = [str(cid) for cid in attendance if cid not in seats]
        if unknown:
            raise InvalidInput(
                "Some clients are not on this group's roster.",
                field_errors={cid: ["Not on this group's roster."] for cid in unknown},
            )
        # Every seat is decided before any is looked at: one refusal refuses the lot.
        for seat in seats.values():
            check(actor, Action.UPDATE, seat, CATEGORY, PURPOSE)
        now = timezone.now()
        errors: dict[str, list[str]] = {}
        locked_by_client: dict[UUID, Appointment] = {}
        for client_id, status in attendance.items():
            locked = _lock(seats[client_id], None)
            if locked.status != AppointmentStatus.SCHEDULED:
                errors[str(client_id)] = ["Attendance is already recorded for this client."]
            elif problems := attendance_problems(locked, status, modality, now=now):
                errors[str(client_id)] = [m for ms in problems.values() for m in ms]
            locked_by_client[client_id] = locked
        _raise_if(errors, "Attendance could not be recorded for some clients.")
        done: list[Appointment] = []
        for client_id, status in attendance.items():
            locked = locked_by_client[client_id]
            with writing(
                actor,
                Action.UPDATE,
                locked,
                CATEGORY,
                PURPOSE,
                detail={"appointment": "record attendance"},
            ) as seat_write:
                _apply_attendance(
                    grant=seat_write,
                    actor=actor,
                    locked=locked,
                    status=status,
                    modality=modality,
                    now=now,
                )
            done.append(locked)
    return done
