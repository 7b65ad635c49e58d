"""The measures demo hook: trajectories of every kind, valid FHIR, the alerts the rules raise."""

from __future__ import annotations

import random
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Organisation, Program
from iptcare.measures import demo
from iptcare.measures.models import Administration, Alert, AlertKind, AlertStatus

TODAY = date.today()


def test_demo_writes_series_and_raises_safety_deterioration_and_not_on_track(
    org: Organisation, northside: Program, theo: User
) -> None:
    episodes = []
    for n in range(60):
        client = Client.objects.create(
            organisation=org,
            program=northside,
            record_number=f"D-{n:04d}",
            legal_given_name=f"Demo{n}",
            legal_family_name="Fictionson",
            date_of_birth=date(1980, 1, 1),
        )
        episodes.append(
            Episode.objects.create(
                organisation=org,
                program=northside,
                client=client,
                status="admitted",
                primary_clinician=theo,
                referral_date=TODAY - timedelta(days=130),
                referral_source="individual",
                admission_date=TODAY - timedelta(days=120),
                level_of_care="1",
            )
        )
    events = AuditEvent.objects.count()
    written = demo.generate(episodes=episodes, rng=random.Random(3), today=TODAY)
    assert written == Administration.objects.count() > 60 * 2 * 2
    kinds = set(Alert.objects.values_list("kind", flat=True))
    assert {AlertKind.SAFETY, AlertKind.DETERIORATION, AlertKind.NOT_ON_TRACK} <= kinds
    for a in Administration.objects.all()[:20]:
        QuestionnaireResponse.model_validate(a.questionnaire_response)
    safety = Administration.objects.filter(flags__0__severity="safety").count()
    assert safety == Alert.objects.filter(kind=AlertKind.SAFETY).count() > 0
    assert AuditEvent.objects.count() == events  # generated data is not an access


def test_demo_stores_schedules_and_raises_what_the_sweep_would(
    org: Organisation, northside: Program, theo: User
) -> None:
    from iptcare.measures.models import MeasureSchedule
    from iptcare.measures.schedule_services import overdue_sweep

    episodes = []
    for n in range(40):
        client = Client.objects.create(
            organisation=org,
            program=northside,
            record_number=f"S-{n:04d}",
            legal_given_name=f"Sched{n}",
            legal_family_name="Fictionson",
            date_of_birth=date(1980, 1, 1),
        )
        episodes.append(
            Episode.objects.create(
                organisation=org,
                program=northside,
                client=client,
                status="admitted",
                primary_clinician=theo,
                referral_date=TODAY - timedelta(days=70),
                referral_source="individual",
                admission_date=TODAY - timedelta(days=60),
                level_of_care="1",
            )
        )
    demo.generate(episodes=episodes, rng=random.Random(5), today=TODAY)
    active = MeasureSchedule.objects.filter(active=True)
    assert set(active.values_list("episode_id", flat=True)) == {e.pk for e in episodes}
    assert {"phq-9", "gad-7", "audit", "dast-10"} <= set(
        active.values_list("instrument", flat=True)
    )
    overdue = Alert.objects.filter(kind=AlertKind.OVERDUE_MEASURE)
    assert overdue.exists()
    # The demo raised exactly what the daily sweep finds overdue today: it adds nothing.
    result = overdue_sweep(today=TODAY)
    assert result.overdue == overdue.count() and result.raised == 0


@pytest.mark.django_db
def test_the_demo_shows_every_alert_type() -> None:
    """Issue 5: trajectories of every kind, so that every alert type appears in the demo."""
    call_command("demo", "--clients", "150", stdout=StringIO())
    assert set(Alert.objects.values_list("kind", flat=True)) == set(AlertKind.values)
    # The whole life cycle shows, and every handled alert says what was done.
    assert set(Alert.objects.values_list("status", flat=True)) == set(AlertStatus.values)
    handled = Alert.objects.exclude(status=AlertStatus.OPEN)
    assert not handled.filter(action_note="").exists()
    assert not handled.filter(acknowledged_by__isnull=True).exists()
    resolved = Alert.objects.filter(status=AlertStatus.RESOLVED)
    assert not resolved.filter(resolution_note="").exists()
    assert not resolved.filter(kind__in=[AlertKind.OVERDUE_MEASURE, AlertKind.SAFETY]).exists()
