"""The demo hook: bulk-written, silent (no audit events), deterministic, and every kind of record
the alerts will need — opioid returns after >= 7 abstinent days, unexpected positives, expected
medication positives."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode, EpisodeSubstance
from iptcare.core.models import Organisation, Program
from iptcare.recovery import abstinence, demo
from iptcare.recovery.models import (
    DrugScreen,
    ReturnSource,
    ReturnToUseEvent,
    ScreenResult,
    UseDay,
)

TODAY = date(2026, 6, 1)


def _episodes(
    n: int, org: Organisation, program: Program, clinician: User, make: Callable[..., Client]
) -> list[Episode]:
    substances = ["heroin", "other_opiates", "alcohol", "cocaine", "heroin", "methamphetamine"]
    out = []
    for i in range(n):
        client = make()
        episode = Episode.objects.create(
            organisation=org,
            program=program,
            client=client,
            status="admitted",
            primary_clinician=clinician,
            referral_date=TODAY - timedelta(days=100),
            referral_source="individual",
            admission_date=TODAY - timedelta(days=90 - i % 20),
        )
        EpisodeSubstance.objects.create(
            episode=episode,
            rank=1,
            substance=substances[i % len(substances)],
            route="oral",
            frequency="daily",
        )
        out.append(Episode.objects.select_related("client", "primary_clinician").get(pk=episode.pk))
    return out


def _snapshot() -> tuple[list[tuple[object, ...]], ...]:
    return (
        sorted(UseDay.objects.values_list("public_id", "date", "substance", "used")),
        sorted(DrugScreen.objects.values_list("public_id", "collected_at")),
        sorted(
            ReturnToUseEvent.objects.values_list(
                "public_id", "date", "source", "after_abstinent_days", "overdose_risk"
            )
        ),
    )


def test_demo_writes_screens_days_and_returns_in_bulk(
    org: Organisation,
    northside: Program,
    theo: User,
    make_client_in: Callable[..., Client],
) -> None:
    episodes = _episodes(60, org, northside, theo, make_client_in)
    audit_before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        summary = demo.generate(episodes=episodes, rng=random.Random(2026), today=TODAY)
    rows = summary["use_days"] + summary["screens"] + summary["results"]
    assert len(ctx.captured_queries) < rows / 50  # bulk inserts, never a save per row
    assert AuditEvent.objects.count() == audit_before
    assert summary["use_days"] == UseDay.objects.count() > 0
    assert summary["screens"] == DrugScreen.objects.count() > 0
    assert summary["return_to_use_events"] == ReturnToUseEvent.objects.count()
    assert set(summary["trajectories"]) == {"steady", "return", "lapse", "using"}
    assert not UseDay.objects.filter(date__gte=TODAY).exists()

    # Opioid returns after >= 7 abstinent days carry overdose risk; shorter ones do not.
    risky = ReturnToUseEvent.objects.filter(overdose_risk=True)
    assert risky.exists()
    assert all(
        e.substance in {"heroin", "other_opiates"} and (e.after_abstinent_days or 0) >= 7
        for e in risky
    )
    assert not ReturnToUseEvent.objects.filter(
        substance__in=["heroin", "other_opiates"],
        after_abstinent_days__gte=abstinence.OVERDOSE_RISK_MIN_ABSTINENT_DAYS,
        overdose_risk=False,
    ).exists()
    assert ReturnToUseEvent.objects.filter(after_abstinent_days__lt=7).exists()
    # Unexpected positives, some of them only on a screen (undisclosed use).
    assert ScreenResult.objects.filter(result="positive", expected=False).exists()
    assert ReturnToUseEvent.objects.filter(
        source=ReturnSource.SCREEN, screen__isnull=False
    ).exists()
    # Every row satisfies the model's rules.
    for model in (UseDay, DrugScreen, ReturnToUseEvent):
        for row in model.objects.order_by("?")[:20]:
            row.full_clean()


def test_demo_marks_medication_positives_expected(
    org: Organisation,
    northside: Program,
    theo: User,
    make_client_in: Callable[..., Client],
) -> None:
    from iptcare.plans.models import PlanMedication, TreatmentPlan

    [episode] = _episodes(1, org, northside, theo, make_client_in)
    plan = TreatmentPlan.objects.create(episode=episode, number=1, created_by=theo)
    PlanMedication.objects.create(plan=plan, name="Methadone", dose="80 mg", indication="oud")
    now = timezone.now()
    TreatmentPlan.objects.filter(pk=plan.pk).update(
        status="active",
        content_digest="x" * 64,
        signed_at=now,
        acknowledged_at=now,
        activated_at=now,
        review_due=TODAY,
    )
    demo.generate(episodes=[episode], rng=random.Random(3), today=TODAY)
    methadone = ScreenResult.objects.filter(analyte="methadone")
    assert methadone.exists()
    assert all(r.result == "positive" and r.expected for r in methadone)


def test_demo_is_deterministic_for_a_seed(
    org: Organisation, northside: Program, theo: User, make_client_in: Callable[..., Client]
) -> None:
    episodes = _episodes(8, org, northside, theo, make_client_in)
    first = demo.generate(episodes=episodes, rng=random.Random(1), today=TODAY)
    snapshot = _snapshot()
    ReturnToUseEvent.objects.all().delete()
    ScreenResult.objects.all().delete()
    DrugScreen.objects.all().delete()
    UseDay.objects.all().delete()
    second = demo.generate(episodes=episodes, rng=random.Random(1), today=TODAY)
    assert first == second
    assert _snapshot() == snapshot


def test_the_demo_generator_calls_the_hook(db: None) -> None:
    from iptcare.demo import generator

    org = generator.generate(seed=11, clients=120)
    events = ReturnToUseEvent.objects.filter(organisation=org)
    assert DrugScreen.objects.filter(organisation=org).exists()
    assert UseDay.objects.filter(organisation=org).exists()
    assert events.filter(overdose_risk=True).exists()
    assert events.filter(source=ReturnSource.SCREEN).exists()
    assert ScreenResult.objects.filter(screen__organisation=org, expected=True).exists()
