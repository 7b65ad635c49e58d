"""Clinical-record fixtures on top of the shared personas (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients import services
from iptcare.clients.choices import DischargeReason, LevelOfCare, ReferralSource
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Organisation, Program

TODAY = timezone.localdate()
REFERRED_ON = TODAY - timedelta(days=30)


@pytest.fixture
def river_client(org: Organisation, riverside: Program) -> Client:
    return Client.objects.create(
        organisation=org,
        program=riverside,
        record_number="R-0001",
        legal_given_name="Ash",
        legal_family_name="Rivermoor",
        date_of_birth=date(1985, 2, 3),
    )


@pytest.fixture
def refer(theo: User) -> Callable[..., Episode]:
    def make(client: Client, **kw: Any) -> Episode:
        return services.episode_refer(
            actor=kw.pop("actor", theo),
            client=client,
            referral_date=kw.pop("referral_date", REFERRED_ON),
            referral_source=kw.pop("referral_source", ReferralSource.INDIVIDUAL),
            **kw,
        )

    return make


def admit(actor: User, episode: Episode, **kw: Any) -> Episode:
    return services.episode_admit(
        actor=actor,
        episode=episode,
        version=kw.pop("version", episode.version),
        admission_date=kw.pop("admission_date", REFERRED_ON + timedelta(days=2)),
        level_of_care=kw.pop("level_of_care", LevelOfCare.L1),
        **kw,
    )


def discharge(actor: User, episode: Episode, **kw: Any) -> Episode:
    return services.episode_discharge(
        actor=actor,
        episode=episode,
        version=kw.pop("version", episode.version),
        discharge_date=kw.pop("discharge_date", TODAY),
        discharge_reason=kw.pop("discharge_reason", DischargeReason.COMPLETED),
        **kw,
    )


@pytest.fixture
def referred(client_record: Client, refer: Callable[..., Episode]) -> Episode:
    return refer(client_record)


@pytest.fixture
def admitted(theo: User, referred: Episode) -> Episode:
    return admit(theo, referred)
