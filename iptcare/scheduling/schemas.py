"""API input and output schemas (separate: inputs never carry ids or server-set fields)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field, field_validator

from iptcare.scheduling.models import (
    ATTENDANCE_CORRECTION_REASON_MAX,
    MAX_DURATION,
    MIN_DURATION,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    GroupSession,
    Modality,
)

Duration = Field(ge=MIN_DURATION, le=MAX_DURATION)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Give a date and time with a time zone offset.")
    return value


class AppointmentScheduleIn(Schema):
    clinician: UUID
    kind: AppointmentKind
    starts_at: datetime
    duration_minutes: int = Duration
    modality: Modality | None = None
    location: str = Field(default="", max_length=200)
    is_telehealth: bool = False

    _aware_start = field_validator("starts_at")(_aware)


class AppointmentRescheduleIn(Schema):
    version: int
    starts_at: datetime
    duration_minutes: int | None = Field(default=None, ge=MIN_DURATION, le=MAX_DURATION)
    clinician: UUID | None = None

    _aware_start = field_validator("starts_at")(_aware)


class AttendanceIn(Schema):
    status: Literal["attended", "late", "no_show"]
    modality: Modality | None = None
    version: int | None = None


class AttendanceCorrectionIn(Schema):
    status: Literal["attended", "late", "no_show"]
    modality: Modality | None = None
    reason: str = Field(min_length=1, max_length=ATTENDANCE_CORRECTION_REASON_MAX)
    version: int


class CancelIn(Schema):
    cancelled_by: Literal["client", "program"]
    reason: str = Field(min_length=1, max_length=300)
    version: int | None = None


class AppointmentOut(Schema):
    id: UUID
    client: UUID
    program: UUID
    clinician: UUID
    kind: AppointmentKind
    modality: Modality | None
    starts_at: datetime
    duration_minutes: int
    location: str
    is_telehealth: bool
    status: AppointmentStatus
    group_session: UUID | None
    cancellation_reason: str
    attendance_recorded_at: datetime | None
    version: int

    @staticmethod
    def of(a: Appointment) -> AppointmentOut:
        """Build from an appointment loaded with client, program, clinician and group session."""
        return AppointmentOut(
            id=a.public_id,
            client=a.client.public_id,
            program=a.program.public_id,
            clinician=a.clinician.public_id,
            kind=AppointmentKind(a.kind),
            modality=Modality(a.modality) if a.modality else None,
            starts_at=a.starts_at,
            duration_minutes=a.duration_minutes,
            location=a.location,
            is_telehealth=a.is_telehealth,
            status=AppointmentStatus(a.status),
            group_session=a.group_session.public_id if a.group_session else None,
            cancellation_reason=a.cancellation_reason,
            attendance_recorded_at=a.attendance_recorded_at,
            version=a.version,
        )


class GroupSessionIn(Schema):
    program: UUID
    title: str = Field(min_length=1, max_length=200)
    facilitator: UUID
    co_facilitators: list[UUID] = []
    starts_at: datetime
    duration_minutes: int = Duration
    modality: Modality
    location: str = Field(default="", max_length=200)
    is_telehealth: bool = False

    _aware_start = field_validator("starts_at")(_aware)


class RosterAddIn(Schema):
    client: UUID


class AttendeeIn(Schema):
    client: UUID
    status: Literal["attended", "late", "no_show"]


class GroupAttendanceIn(Schema):
    attendees: list[AttendeeIn] = Field(min_length=1)
    modality: Modality | None = None


class RosterSeatOut(Schema):
    appointment: UUID
    client: UUID
    display_name: str
    status: AppointmentStatus


class GroupSessionOut(Schema):
    id: UUID
    program: UUID
    title: str
    facilitator: UUID
    starts_at: datetime
    duration_minutes: int
    modality: Modality
    location: str
    is_telehealth: bool
    roster: list[RosterSeatOut]

    @staticmethod
    def of(session: GroupSession, roster: list[Appointment]) -> GroupSessionOut:
        return GroupSessionOut(
            id=session.public_id,
            program=session.program.public_id,
            title=session.title,
            facilitator=session.facilitator.public_id,
            starts_at=session.starts_at,
            duration_minutes=session.duration_minutes,
            modality=Modality(session.modality),
            location=session.location,
            is_telehealth=session.is_telehealth,
            roster=[
                RosterSeatOut(
                    appointment=s.public_id,
                    client=s.client.public_id,
                    display_name=s.client.display_name,
                    status=AppointmentStatus(s.status),
                )
                for s in roster
            ],
        )


class WeekAppointmentOut(Schema):
    id: UUID
    client: UUID
    client_display_name: str
    kind: AppointmentKind
    starts_at: datetime
    duration_minutes: int
    status: AppointmentStatus
    group_session: UUID | None


class WeekDayOut(Schema):
    day: date
    appointments: list[WeekAppointmentOut]


class WeekOut(Schema):
    clinician: UUID
    week_start: date
    programs: list[UUID]
    days: list[WeekDayOut]
