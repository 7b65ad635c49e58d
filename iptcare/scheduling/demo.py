"""Synthetic appointments for the demo and benchmark data sets.

Called by the demo generator with one ``DemoEnrolment`` per client episode (anything with the same
attributes will do, e.g. an Episode adapted by the caller). Writes with ``bulk_create`` only, no
audit events (nobody accessed anything), deterministic for a given ``rng``. 20,000 clients take
seconds, not minutes: rows are built as plain model instances and inserted in large batches.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.models import Organisation, Program
from iptcare.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    GroupSession,
    Modality,
)

FUTURE_WEEKS = 3
BATCH = 5000
CLIENT_CANCEL_REASONS = ("Unwell", "Childcare fell through", "Work shift", "Transport problem")
PROGRAM_CANCEL_REASONS = ("Clinician unwell", "Office closed", "Clinician in training")
GROUPS = (
    ("IPT skills group", Modality.IPT, 1, 17),  # title, modality, weekday (Tue), hour
    ("Relapse prevention (CBT)", Modality.CBT, 3, 16),
)
GROUP_WEEKS_BACK = 26
ROSTER_SIZE = (5, 10)


class EnrolmentLike(Protocol):
    """What the hook needs about one client's episode of care."""

    @property
    def client(self) -> Client: ...
    @property
    def program(self) -> Program: ...
    @property
    def clinician(self) -> User: ...
    @property
    def admitted_on(self) -> date: ...
    @property
    def discharged_on(self) -> date | None: ...


@dataclass(frozen=True)
class DemoEnrolment:
    client: Client
    program: Program
    clinician: User
    admitted_on: date
    discharged_on: date | None = None


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _first_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _outcome(rng: random.Random) -> tuple[str, str]:
    """A past appointment's status and cancellation reason: ~75 % attended in all."""
    roll = rng.random()
    if roll < 0.69:
        return AppointmentStatus.ATTENDED, ""
    if roll < 0.76:
        return AppointmentStatus.LATE, ""
    if roll < 0.85:
        return AppointmentStatus.CANCELLED_CLIENT, rng.choice(CLIENT_CANCEL_REASONS)
    if roll < 0.89:
        return AppointmentStatus.CANCELLED_PROGRAM, rng.choice(PROGRAM_CANCEL_REASONS)
    return AppointmentStatus.NO_SHOW, ""


def _primary_modality(rng: random.Random) -> str:
    return rng.choices([Modality.IPT, Modality.CBT, Modality.MI], weights=[0.6, 0.25, 0.15], k=1)[0]


def generate(
    *,
    organisation: Organisation,
    episodes_or_clients: Iterable[EnrolmentLike],
    clinicians_by_program: Mapping[int, Sequence[User]],
    rng: random.Random,
    today: date,
) -> dict[str, Any]:
    """Create weekly appointments for every enrolment and weekly groups for every program.

    ``clinicians_by_program`` maps a program's pk to its clinicians (group facilitators).
    Returns a summary: counts by status, the group sessions, and the clients who dropped out
    after a run of no-shows (the caller may discharge their episodes).
    """
    now = timezone.now()
    at = functools.cache(_at)  # thousands of clients share each (day, hour) slot
    horizon = today + timedelta(weeks=FUTURE_WEEKS)
    appointments: list[Appointment] = []
    dropouts: dict[int, date] = {}  # client pk → the day of the last no-show
    runs = 0
    by_program: dict[int, list[EnrolmentLike]] = defaultdict(list)

    for enrolment in episodes_or_clients:
        by_program[enrolment.program.pk].append(enrolment)
        end = min(enrolment.discharged_on or horizon, horizon)
        weekday = rng.randrange(5)
        hour = rng.choice((9, 10, 11, 13, 14, 15, 16))
        modality = _primary_modality(rng)
        on_medication = rng.random() < 0.35
        # Some clients stop coming for a while: a run of 2-4 no-shows, half of them for good.
        run_at = rng.randrange(2, 12) if rng.random() < 0.18 else None
        run_length = rng.randint(2, 4)
        drops_out = run_at is not None and rng.random() < 0.5
        day = enrolment.admitted_on
        week = 0
        dropped = False
        while day <= end and not dropped:
            starts_at = at(day, hour)
            kind: str = AppointmentKind.INDIVIDUAL
            planned = modality
            if week == 0:
                kind, planned = AppointmentKind.INTAKE, Modality.MI
            elif on_medication and week % 4 == 2:
                kind, planned = AppointmentKind.MEDICATION_MANAGEMENT, Modality.MEDICATION
            status: str = AppointmentStatus.SCHEDULED
            reason = ""
            if day < today:
                if run_at is not None and run_at <= week < run_at + run_length:
                    status = AppointmentStatus.NO_SHOW
                    if week == run_at + run_length - 1:
                        runs += 1
                        dropped = drops_out
                else:
                    status, reason = _outcome(rng)
            recorded = status != AppointmentStatus.SCHEDULED
            appointments.append(
                Appointment(
                    public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    created_at=now,
                    updated_at=now,
                    organisation_id=organisation.pk,
                    program_id=enrolment.program.pk,
                    client_id=enrolment.client.pk,
                    clinician_id=enrolment.clinician.pk,
                    kind=kind,
                    modality=planned,
                    starts_at=starts_at,
                    duration_minutes=50 if kind != AppointmentKind.INTAKE else 90,
                    location="Room 2" if week % 3 else "Room 5",
                    is_telehealth=week % 5 == 4,
                    status=status,
                    group_session_id=None,
                    attendance_recorded_by_id=enrolment.clinician.pk if recorded else None,
                    attendance_recorded_at=(starts_at + timedelta(hours=1) if recorded else None),
                    cancellation_reason=reason,
                    version=1,
                )
            )
            if week == 0:
                day = _first_on_or_after(day + timedelta(days=1), weekday)
            else:
                day += timedelta(weeks=1)
            week += 1
        if dropped:
            dropouts[enrolment.client.pk] = day - timedelta(weeks=1)

    sessions, seats = _groups(
        organisation=organisation,
        by_program=by_program,
        dropouts=dropouts,
        clinicians_by_program=clinicians_by_program,
        rng=rng,
        today=today,
        now=now,
    )
    with transaction.atomic():
        GroupSession.objects.bulk_create(sessions, batch_size=BATCH)
        Appointment.objects.bulk_create(appointments + seats, batch_size=BATCH)
    statuses = Counter(str(a.status) for a in appointments + seats)
    return {
        "appointments": len(appointments) + len(seats),
        "individual_appointments": len(appointments),
        "group_sessions": len(sessions),
        "group_seats": len(seats),
        "by_status": dict(sorted(statuses.items())),
        "no_show_runs": runs,
        "dropout_client_ids": sorted(dropouts),
    }


def _groups(
    *,
    organisation: Organisation,
    by_program: Mapping[int, list[EnrolmentLike]],
    dropouts: Mapping[int, date],
    clinicians_by_program: Mapping[int, Sequence[User]],
    rng: random.Random,
    today: date,
    now: datetime,
) -> tuple[list[GroupSession], list[Appointment]]:
    """Two weekly groups per program; each meeting's roster drawn from clients enrolled then."""
    sessions: list[GroupSession] = []
    seats: list[Appointment] = []
    first_week = today - timedelta(weeks=GROUP_WEEKS_BACK)
    for program_pk, enrolments in by_program.items():
        clinicians = clinicians_by_program.get(program_pk) or ()
        if not clinicians:
            continue
        for index, (title, modality, weekday, hour) in enumerate(GROUPS):
            facilitator = clinicians[index % len(clinicians)]
            day = _first_on_or_after(first_week, weekday)
            while day <= today + timedelta(weeks=FUTURE_WEEKS):
                starts_at = _at(day, hour)
                session = GroupSession(
                    public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    organisation_id=organisation.pk,
                    program_id=program_pk,
                    title=title,
                    facilitator_id=facilitator.pk,
                    starts_at=starts_at,
                    duration_minutes=90,
                    modality=modality,
                    location="Group room",
                    created_at=now,
                    updated_at=now,
                )
                sessions.append(session)
                # Sample a few candidates and keep those enrolled that day: O(1) per meeting.
                picks = rng.sample(enrolments, min(len(enrolments), ROSTER_SIZE[1] * 3))
                active = [
                    e
                    for e in picks
                    if e.admitted_on < day
                    and (e.discharged_on is None or day <= e.discharged_on)
                    and day <= dropouts.get(e.client.pk, day)
                ][: rng.randint(*ROSTER_SIZE)]
                for e in active:
                    status, reason = (
                        _outcome(rng) if day < today else (AppointmentStatus.SCHEDULED, "")
                    )
                    recorded = status != AppointmentStatus.SCHEDULED
                    seats.append(
                        Appointment(
                            public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                            organisation_id=organisation.pk,
                            program_id=program_pk,
                            client_id=e.client.pk,
                            clinician_id=facilitator.pk,
                            kind=AppointmentKind.GROUP,
                            modality=modality,
                            starts_at=starts_at,
                            duration_minutes=90,
                            location="Group room",
                            status=status,
                            group_session=session,
                            attendance_recorded_by_id=facilitator.pk if recorded else None,
                            attendance_recorded_at=(
                                starts_at + timedelta(hours=2) if recorded else None
                            ),
                            cancellation_reason=reason,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                day += timedelta(weeks=1)
    return sessions, seats
