"""Plan fixtures on top of the shared personas: sue supervises and tina is a trainee (both in
Northside, as in tests/encounters), an admitted episode for Wren, complete plan content."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

import iptcare.plans.triggers  # noqa: F401  (registers the triggers the suite lifts on flush)
from iptcare.access.vocabulary import Role
from iptcare.accounts.models import User
from iptcare.clients import services as client_services
from iptcare.clients.choices import DiagnosisKind, LevelOfCare, ReferralSource
from iptcare.clients.models import Client, Diagnosis, Episode
from iptcare.core.models import Organisation, Program
from iptcare.plans import services
from iptcare.plans.models import TreatmentPlan

TODAY = timezone.localdate()


@pytest.fixture
def sue(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    """Clinical supervisor in Northside."""
    return make_user(
        "sue@example.org",
        organisation=org,
        roles=(Role.CLINICAL_SUPERVISOR,),
        programs=(northside,),
    )


@pytest.fixture
def tina(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    """Trainee therapist in Northside: her signature needs a co-signature."""
    return make_user(
        "tina@example.org",
        organisation=org,
        roles=(Role.THERAPIST,),
        programs=(northside,),
        is_trainee=True,
    )


@pytest.fixture
def episode(theo: User, client_record: Client) -> Episode:
    referred = client_services.episode_refer(
        actor=theo,
        client=client_record,
        referral_date=TODAY - timedelta(days=40),
        referral_source=ReferralSource.INDIVIDUAL,
    )
    return client_services.episode_admit(
        actor=theo,
        episode=referred,
        version=referred.version,
        admission_date=TODAY - timedelta(days=38),
        level_of_care=LevelOfCare.L1,
    )


@pytest.fixture
def add_diagnosis(theo: User) -> Callable[..., Diagnosis]:
    def add(client: Client, code: str, **kw: Any) -> Diagnosis:
        return Diagnosis.objects.create(
            organisation=client.organisation,
            client=client,
            code=code,
            description=kw.pop("description", f"Diagnosis {code}"),
            kind=kw.pop(
                "kind",
                DiagnosisKind.SUBSTANCE_USE
                if code.startswith("F1")
                else DiagnosisKind.CO_OCCURRING,
            ),
            confirmed_by=theo,
            confirmed_at=timezone.now(),
            **kw,
        )

    return add


def complete_content(*, responsible: User | None = None, target: date | None = None) -> dict:
    """One problem → goal → objective → intervention: enough to sign."""
    return {
        "problems": [
            {
                "text": "Drinking most evenings after arguments at home.",
                "ipt_problem_area": "role_dispute",
                "asam_dimension": 5,
                "goals": [
                    {
                        "text": "I want evenings at home to be calmer.",
                        "objectives": [
                            {
                                "text": "Four alcohol-free evenings a week for four weeks.",
                                "target_date": (target or TODAY + timedelta(days=28)).isoformat(),
                                "interventions": [
                                    {
                                        "modality": "ipt",
                                        "frequency": "weekly",
                                        "description": "Role dispute work.",
                                        "responsible": str(responsible.public_id)
                                        if responsible
                                        else None,
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
        "medications": [],
    }


@pytest.fixture
def draft(theo: User, episode: Episode) -> TreatmentPlan:
    plan = services.plan_start_version(actor=theo, episode=episode)
    return services.plan_update_draft(
        actor=theo, plan=plan, version=plan.version, content_in=complete_content(responsible=theo)
    )


@pytest.fixture
def active(theo: User, draft: TreatmentPlan) -> TreatmentPlan:
    signed = services.plan_sign(actor=theo, plan=draft, version=draft.version)
    return services.plan_acknowledge(actor=theo, plan=signed, version=signed.version)
