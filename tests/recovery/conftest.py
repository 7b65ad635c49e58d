"""Recovery fixtures on top of the shared personas (tests/conftest.py): nina, a Northside nurse;
an admitted episode for the shared client; an active plan recording buprenorphine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import User
from iptcare.clients import services as client_services
from iptcare.clients.choices import LevelOfCare, ReferralSource
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Organisation, Program
from iptcare.plans import services as plan_services
from iptcare.plans.models import TreatmentPlan
from iptcare.recovery import services
from iptcare.recovery.models import DrugScreen, UseDaySource
from iptcare.recovery.services import ResultInput, UseDayInput
from tests.plans.conftest import complete_content

TODAY = timezone.localdate()


def at(day: date, hour: int = 10) -> datetime:
    """``hour`` o'clock on ``day``; today at midnight, which is never in the future."""
    return timezone.make_aware(datetime.combine(day, time(0 if day >= TODAY else hour)))


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


@pytest.fixture
def nina(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    return make_user(
        "nina@example.org", organisation=org, roles=(Role.NURSE,), programs=(northside,)
    )


@pytest.fixture
def episode(theo: User, client_record: Client) -> Episode:
    referred = client_services.episode_refer(
        actor=theo,
        client=client_record,
        referral_date=days_ago(62),
        referral_source=ReferralSource.INDIVIDUAL,
    )
    return client_services.episode_admit(
        actor=theo,
        episode=referred,
        version=referred.version,
        admission_date=days_ago(60),
        level_of_care=LevelOfCare.L1,
    )


def _content(medication: str, responsible: User) -> dict:
    content = complete_content(responsible=responsible)
    content["medications"] = [{"name": medication, "dose": "16 mg daily", "indication": "oud"}]
    return content


@pytest.fixture
def on_buprenorphine(theo: User, episode: Episode) -> TreatmentPlan:
    """An active plan recording buprenorphine/naloxone for opioid use disorder."""
    plan = plan_services.plan_start_version(actor=theo, episode=episode)
    plan = plan_services.plan_update_draft(
        actor=theo,
        plan=plan,
        version=plan.version,
        content_in=_content("Buprenorphine/naloxone", theo),
    )
    signed = plan_services.plan_sign(actor=theo, plan=plan, version=plan.version)
    return plan_services.plan_acknowledge(actor=theo, plan=signed, version=signed.version)


RecordDays = Callable[..., services.UseDaysOutcome]


@pytest.fixture
def record_days(theo: User, client_record: Client) -> RecordDays:
    """Record ``pattern`` for ``substance`` ending ``end_ago`` days ago: one letter a day,
    oldest first — 'u' used, 'a' abstinent, '.' not recorded."""

    def record(
        pattern: str, substance: str = "heroin", end_ago: int = 1
    ) -> services.UseDaysOutcome:
        end = days_ago(end_ago)
        start = end - timedelta(days=len(pattern) - 1)
        entries = [
            UseDayInput(day=start + timedelta(days=i), substance=substance, used=c == "u")
            for i, c in enumerate(pattern)
            if c != "."
        ]
        return services.use_days_record(
            actor=theo,
            client=client_record,
            start=start,
            end=end,
            days=entries,
            source=UseDaySource.CLINICIAN_INTERVIEW,
        )

    return record


MakeScreen = Callable[..., DrugScreen]


@pytest.fixture
def make_screen(theo: User, client_record: Client) -> MakeScreen:
    def make(day: date, **results: str) -> DrugScreen:
        return services.screen_record(
            actor=theo,
            client=client_record,
            collected_at=at(day),
            specimen="urine",
            results=[ResultInput(analyte=a, result=r) for a, r in results.items()],
        )

    return make


@pytest.fixture
def make_client_in(org: Organisation, northside: Program) -> Callable[..., Client]:
    counter = iter(range(2, 100_000))

    def make(program: Program | None = None) -> Client:
        n = next(counter)
        return Client.objects.create(
            organisation=org,
            program=program or northside,
            record_number=f"R-{n:05d}",
            legal_given_name=f"Client{n}",
            legal_family_name="Fictionson",
            date_of_birth=date(1985, 1, 1),
        )

    return make
