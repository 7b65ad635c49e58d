"""The demo hook: bulk-created, every discharge reason present, no audit events."""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients import demo
from iptcare.clients.choices import DischargeReason
from iptcare.clients.models import Client, Diagnosis, Episode, EpisodeSubstance, SudAssessment
from iptcare.core.models import Organisation, Program

TODAY = date(2026, 11, 1)


def test_generate(
    org: Organisation, northside: Program, riverside: Program, theo: User, tess: User
) -> None:
    Client.objects.bulk_create(
        [
            Client(
                organisation=org,
                program=(northside, riverside)[i % 2],
                record_number=f"D-{i:05d}",
                legal_given_name="Demo",
                legal_family_name=f"Person{i}",
                date_of_birth=date(1980, 1, 1) + timedelta(days=i),
            )
            for i in range(120)
        ]
    )
    clients = list(Client.objects.filter(organisation=org))
    audit_before = AuditEvent.objects.count()
    summary = demo.generate(
        organisation=org,
        programs=[northside, riverside],
        clinicians_by_program={northside: [theo], riverside.pk: [tess]},
        clients=clients,
        rng=random.Random(7),
        today=TODAY,
    )
    assert AuditEvent.objects.count() == audit_before
    assert summary["episodes"] == Episode.objects.count() == 120
    assert 0.45 < summary["admitted"] / 120 < 0.75
    reasons = set(
        Episode.objects.exclude(discharge_reason="").values_list("discharge_reason", flat=True)
    )
    assert reasons == set(DischargeReason.values)
    assert Episode.objects.filter(referral_date__lt=TODAY - timedelta(days=366)).count() == 0
    admitted = Episode.objects.filter(status="admitted")
    assert (
        SudAssessment.objects.filter(episode__in=admitted).values("episode").distinct().count()
        == admitted.count()
    )
    confirmed = Diagnosis.objects.filter(kind="substance_use", episode__in=admitted)
    assert confirmed.count() == admitted.count()
    assert Diagnosis.objects.filter(kind="co_occurring").exists()
    assert (
        EpisodeSubstance.objects.filter(rank=1).count()
        == summary["admitted"] + summary["discharged"]
    )
    assert all(
        e.primary_clinician_id == (theo.pk if e.program_id == northside.pk else tess.pk)
        for e in Episode.objects.all()
    )
    for e in Episode.objects.filter(status="discharged"):
        assert e.admission_date is not None and e.discharge_date is not None
        assert e.referral_date <= e.admission_date <= e.discharge_date <= TODAY


def test_generate_scales(org: Organisation, northside: Program, theo: User) -> None:
    Client.objects.bulk_create(
        [
            Client(
                organisation=org,
                program=northside,
                record_number=f"S-{i:05d}",
                legal_given_name="Scale",
                legal_family_name=f"Person{i}",
                date_of_birth=date(1980, 1, 1),
            )
            for i in range(3000)
        ]
    )
    clients = list(Client.objects.filter(organisation=org))
    with CaptureQueriesContext(connection) as ctx:
        summary = demo.generate(
            organisation=org,
            programs=[northside],
            clinicians_by_program={northside: [theo]},
            clients=clients,
            rng=random.Random(1),
            today=TODAY,
        )
    rows = sum(summary.values()) - summary["admitted"] - summary["discharged"]
    # Batched inserts (SQLite caps parameters per statement): far fewer queries than rows.
    assert rows > 10_000 and len(ctx.captured_queries) < rows / 20
