"""Scheduling fixtures on top of the shared personas (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.models import Organisation, Program
from iptcare.scheduling.models import (
    ATTENDED_STATUSES,
    CANCELLED_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    GroupSession,
    Modality,
)

MakeAppointment = Callable[..., Appointment]


@pytest.fixture
def make_client(org: Organisation, northside: Program) -> Callable[..., Client]:
    counter = iter(range(2, 100_000))

    def make(program: Program | None = None, family: str = "Fictionson") -> Client:
        n = next(counter)
        return Client.objects.create(
            organisation=org,
            program=program or northside,
            record_number=f"S-{n:05d}",
            legal_given_name=f"Client{n}",
            legal_family_name=family,
            date_of_birth=date(1985, 1, 1),
        )

    return make


@pytest.fixture
def make_appointment(theo: User) -> MakeAppointment:
    """Test setup straight into the table (the services are what the tests exercise)."""

    def make(
        client: Client,
        starts_at: datetime,
        *,
        status: str = AppointmentStatus.SCHEDULED,
        clinician: User | None = None,
        kind: str = AppointmentKind.INDIVIDUAL,
        modality: str = Modality.IPT,
        **extra: Any,
    ) -> Appointment:
        return Appointment.objects.create(
            organisation_id=client.organisation_id,
            program_id=client.program_id,
            client=client,
            clinician=clinician or theo,
            kind=kind,
            modality=modality,
            starts_at=starts_at,
            duration_minutes=50,
            status=status,
            cancellation_reason="test" if status in CANCELLED_STATUSES else "",
            attendance_recorded_at=starts_at if status in ATTENDED_STATUSES else None,
            **extra,
        )

    return make


@pytest.fixture
def past_appointment(client_record: Client, make_appointment: MakeAppointment) -> Appointment:
    return make_appointment(client_record, timezone.now() - timedelta(hours=2))


@pytest.fixture
def future_appointment(client_record: Client, make_appointment: MakeAppointment) -> Appointment:
    return make_appointment(client_record, timezone.now() + timedelta(days=2))


@pytest.fixture
def nina(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    """A nurse in Northside: may chart, holds a treating role."""
    return make_user(
        "nina@example.org", organisation=org, roles=(Role.NURSE,), programs=(northside,)
    )


@pytest.fixture
def make_group(org: Organisation, northside: Program, theo: User) -> Callable[..., GroupSession]:
    def make(starts_at: datetime, program: Program | None = None) -> GroupSession:
        return GroupSession.objects.create(
            organisation=org,
            program=program or northside,
            title="IPT skills group",
            facilitator=theo,
            starts_at=starts_at,
            duration_minutes=90,
            modality=Modality.IPT,
        )

    return make


def reload(appointment: Appointment) -> Appointment:
    return Appointment.objects.get(pk=appointment.pk)
