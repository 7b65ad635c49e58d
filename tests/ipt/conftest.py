"""IPT fixtures on top of the shared personas (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.choices import EpisodeStatus, ReferralSource
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Organisation, Program
from iptcare.scheduling.models import Appointment, AppointmentKind, AppointmentStatus, Modality

START = date(2025, 1, 6)


def person(name: str, ring: str = "middle", **extra: Any) -> dict[str, Any]:
    return {"name": name, "relation": extra.pop("relation", "friend"), "ring": ring, **extra}


@pytest.fixture
def make_episode(theo: User) -> Callable[..., Episode]:
    def make(client: Client, *, status: str = EpisodeStatus.ADMITTED) -> Episode:
        return Episode.objects.create(
            organisation_id=client.organisation_id,
            program_id=client.program_id,
            client=client,
            status=status,
            primary_clinician=theo,
            referral_date=START - timedelta(days=14),
            referral_source=ReferralSource.INDIVIDUAL,
            admission_date=START - timedelta(days=7),
        )

    return make


@pytest.fixture
def episode(client_record: Client, make_episode: Callable[..., Episode]) -> Episode:
    return make_episode(client_record)


@pytest.fixture
def make_client(org: Organisation, northside: Program) -> Callable[..., Client]:
    counter = iter(range(2, 100_000))

    def make() -> Client:
        n = next(counter)
        return Client.objects.create(
            organisation=org,
            program=northside,
            record_number=f"I-{n:05d}",
            legal_given_name=f"Client{n}",
            legal_family_name="Fictionby",
            date_of_birth=date(1988, 2, 2),
        )

    return make


@pytest.fixture
def attend(theo: User) -> Callable[..., list[Appointment]]:
    """``n`` attended individual IPT sessions, weekly from ``start``."""

    def make(
        client: Client,
        n: int,
        *,
        start: date = START,
        modality: str = Modality.IPT,
        status: str = AppointmentStatus.ATTENDED,
    ) -> list[Appointment]:
        rows = []
        for i in range(n):
            at = timezone.make_aware(datetime.combine(start + timedelta(weeks=i), time(10)))
            rows.append(
                Appointment(
                    organisation_id=client.organisation_id,
                    program_id=client.program_id,
                    client=client,
                    clinician=theo,
                    kind=AppointmentKind.INDIVIDUAL,
                    modality=modality,
                    starts_at=at,
                    duration_minutes=50,
                    status=status,
                    attendance_recorded_at=at,
                )
            )
        return Appointment.objects.bulk_create(rows)

    return make
