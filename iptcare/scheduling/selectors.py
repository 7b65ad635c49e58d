"""Every read of appointments and group sessions, already filtered by the access policy.

The selectors that take an actor ask ``authorize`` and so leave one audit event each. The two
bulk helpers (``next_appointment_and_last_seen``, ``no_show_runs``) take client ids the caller
has already been allowed to list (the caseload page) and only compute; they run a constant
number of queries whatever the number of clients or appointments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from iptcare.access.policy import authorize, decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.errors import NotFound
from iptcare.core.models import Organisation, Program
from iptcare.scheduling.models import (
    ATTENDED_STATUSES,
    Appointment,
    AppointmentStatus,
    GroupSession,
)

CATEGORY = DataCategory.CLINICAL_RECORD
PURPOSE = Purpose.TREATMENT
TIMELINE_LIMIT = 100


def week_start_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class WeekDay:
    day: date
    appointments: list[Appointment]


@dataclass(frozen=True)
class TherapistWeek:
    clinician: User
    week_start: date
    days: list[WeekDay]
    programs: list[Program]

    @property
    def previous_start(self) -> date:
        return self.week_start - timedelta(days=7)

    @property
    def next_start(self) -> date:
        return self.week_start + timedelta(days=7)

    @property
    def appointment_count(self) -> int:
        return sum(len(d.appointments) for d in self.days)


def clinician_get(*, actor: User, public_id: UUID) -> User:
    """A member of the actor's organisation (staff directory; no clinical data, no audit)."""
    if actor.organisation_id is None:
        raise NotFound("No such clinician.")
    clinician = (
        User.objects.staff()
        .filter(public_id=public_id, organisation_id=actor.organisation_id)
        .first()
    )
    if clinician is None:
        raise NotFound("No such clinician.")
    return clinician


def therapist_week(*, actor: User, clinician: User, week_start: date) -> TherapistWeek:
    """The clinician's appointments for 7 days from ``week_start``, day by day.

    Only clients of programs in which the actor may list clinical records; one audit event (LIST,
    resource: the first such program; every program read is named in the event's detail).
    Fixed query count: programs, the actor's privileges (cached), one query for the
    appointments with their clients; its audit event is appended at the request's edge.
    """
    if actor.organisation_id is None:
        raise NotFound("No such clinician.")
    programs = list(
        Program.objects.filter(staff=clinician, organisation_id=actor.organisation_id)
        .select_related("organisation")
        .order_by("name")
    )
    allowed = [p for p in programs if decide(actor, Action.LIST, p, CATEGORY, PURPOSE)]
    detail = {
        "clinician": str(clinician.public_id),
        "week_start": week_start.isoformat(),
        "programs": [str(p.public_id) for p in allowed],
    }
    if allowed:
        authorize(actor, Action.LIST, allowed[0], CATEGORY, PURPOSE, detail=detail)
    else:
        # Refused (and recorded) unless the clinician has no program at all: then nothing to show.
        resource: Program | Organisation | None = programs[0] if programs else actor.organisation
        if resource is None:
            raise NotFound("No such clinician.")
        authorize(actor, Action.LIST, resource, CATEGORY, PURPOSE, detail=detail)
    start = _local_midnight(week_start)
    end = _local_midnight(week_start + timedelta(days=7))
    appointments = list(
        Appointment.objects.filter(
            clinician=clinician,
            starts_at__gte=start,
            starts_at__lt=end,
            client__program__in=[p.pk for p in allowed],
        )
        .select_related("client", "group_session")
        .order_by("starts_at", "id")
    )
    by_day: dict[date, list[Appointment]] = {week_start + timedelta(days=i): [] for i in range(7)}
    for appointment in appointments:
        by_day[timezone.localtime(appointment.starts_at).date()].append(appointment)
    return TherapistWeek(
        clinician=clinician,
        week_start=week_start,
        days=[WeekDay(day=d, appointments=a) for d, a in by_day.items()],
        programs=allowed,
    )


def client_timeline_appointments(
    *, actor: User, client: Client, limit: int = TIMELINE_LIMIT
) -> list[Appointment]:
    """The client's appointments, newest first (one audit event, one query for the rows)."""
    authorize(actor, Action.LIST, client, CATEGORY, PURPOSE, detail={"of": "appointments"})
    return list(
        Appointment.objects.filter(client=client)
        .select_related("clinician", "group_session")
        .order_by("-starts_at", "-id")[:limit]
    )


def client_chart_appointments(*, actor: User, client: Client, limit: int) -> list[Appointment]:
    """The latest appointments for the chart's timeline: only what it shows (same access and
    audit as ``client_timeline_appointments``; one query)."""
    authorize(actor, Action.LIST, client, CATEGORY, PURPOSE, detail={"of": "appointments"})
    return list(
        Appointment.objects.filter(client=client)
        .select_related("clinician")
        .only("public_id", "starts_at", "kind", "status", "modality", "clinician__full_name")
        .order_by("-starts_at", "-id")[:limit]
    )


def appointment_get(*, actor: User, public_id: UUID) -> Appointment:
    """One appointment, if the actor may see its client's record (audited VIEW)."""
    appointment = (
        Appointment.objects.select_related(
            "organisation",
            "program",
            "client__organisation",
            "clinician",
            "group_session",
            "attendance_recorded_by",
        )
        .filter(public_id=public_id)
        .first()
    )
    if appointment is None:
        raise NotFound("No such appointment.")
    authorize(actor, Action.VIEW, appointment, CATEGORY, PURPOSE)
    return appointment


def group_session_get(*, actor: User, public_id: UUID) -> GroupSession:
    """One group session with its program (audited VIEW on the program's records)."""
    session = (
        GroupSession.objects.select_related("organisation", "program__organisation", "facilitator")
        .filter(public_id=public_id)
        .first()
    )
    if session is None:
        raise NotFound("No such group session.")
    authorize(actor, Action.VIEW, session, CATEGORY, PURPOSE)
    return session


def group_roster(*, actor: User, session: GroupSession) -> list[Appointment]:
    """The roster: one group appointment per enrolled client, by name (one audit event).

    A client who has since moved to a program the actor may not see is left out.
    """
    authorize(actor, Action.LIST, session, CATEGORY, PURPOSE, detail={"of": "roster"})
    seats = list(
        Appointment.objects.filter(group_session=session)
        .select_related("client__organisation", "organisation", "clinician")
        .order_by("client__legal_family_name", "client__legal_given_name", "id")
    )
    return [s for s in seats if decide(actor, Action.VIEW, s, CATEGORY, PURPOSE)]


def next_appointment_and_last_seen(
    *, client_ids: Iterable[int], now: datetime | None = None
) -> dict[int, tuple[datetime | None, datetime | None]]:
    """client id → (next scheduled start from now, last attended start). One query."""
    ids = list(client_ids)
    now = now or timezone.now()
    result: dict[int, tuple[datetime | None, datetime | None]] = dict.fromkeys(ids, (None, None))
    rows = (
        Appointment.objects.filter(client_id__in=ids)
        .values("client_id")
        .annotate(
            next_at=Min(
                "starts_at", filter=Q(status=AppointmentStatus.SCHEDULED, starts_at__gte=now)
            ),
            last_seen=Max(
                "starts_at", filter=Q(status__in=sorted(ATTENDED_STATUSES), starts_at__lte=now)
            ),
        )
        .order_by()
    )
    for row in rows:
        result[row["client_id"]] = (row["next_at"], row["last_seen"])
    return result


def no_show_runs(*, client_ids: Iterable[int]) -> dict[int, int]:
    """client id → the current run of consecutive no-shows (since the last attended session).

    Cancellations and not-yet-recorded appointments neither extend nor break a run. One query.
    """
    ids = list(client_ids)
    attended_later = Appointment.objects.filter(
        client_id=OuterRef("client_id"),
        status__in=sorted(ATTENDED_STATUSES),
        starts_at__gt=OuterRef("starts_at"),
    )
    rows = (
        Appointment.objects.filter(client_id__in=ids, status=AppointmentStatus.NO_SHOW)
        .filter(~Exists(attended_later))
        .values("client_id")
        .annotate(run=Count("id"))
        .order_by()
    )
    result = dict.fromkeys(ids, 0)
    for row in rows:
        result[row["client_id"]] = row["run"]
    return result
