"""Screens and returns to use raise alerts: unexpected positive, return to use, and — after an
opioid return following >= 7 abstinent days — an immediate overdose-risk alert with the
naloxone prompt."""

from __future__ import annotations

import pytest

from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.measures.alerts import NALOXONE_PROMPT
from iptcare.measures.models import Alert, AlertKind
from iptcare.recovery import services
from iptcare.recovery.services import ResultInput
from tests.recovery.conftest import at, days_ago


def test_unexpected_positive_screen_raises_one_alert(
    theo: User, client_record: Client, episode: Episode
) -> None:
    screen = services.screen_record(
        actor=theo,
        client=client_record,
        collected_at=at(days_ago(1)),
        specimen="urine",
        results=[ResultInput("fentanyl", "positive"), ResultInput("thc", "negative")],
    )
    (alert,) = Alert.objects.all()
    assert alert.kind == AlertKind.UNEXPECTED_POSITIVE and alert.clinician == theo
    assert alert.source_id == str(screen.public_id) and "Fentanyl" in alert.title


def test_expected_and_negative_results_raise_nothing(
    theo: User, client_record: Client, episode: Episode
) -> None:
    services.screen_record(
        actor=theo,
        client=client_record,
        collected_at=at(days_ago(1)),
        specimen="urine",
        results=[
            ResultInput("benzodiazepines", "positive", True, "Prescribed by the GP"),
            ResultInput("opiates", "negative"),
        ],
    )
    assert not Alert.objects.exists()


@pytest.mark.parametrize(("days", "overdose"), [(6, False), (7, True), (30, True)])
def test_reported_opioid_return_and_overdose_risk_at_seven_days(
    theo: User, client_record: Client, episode: Episode, days: int, overdose: bool
) -> None:
    services.return_to_use_report(
        actor=theo,
        client=client_record,
        day=days_ago(1),
        substance="heroin",
        after_abstinent_days=days,
    )
    kinds = {a.kind: a for a in Alert.objects.all()}
    assert AlertKind.RETURN_TO_USE in kinds
    assert (AlertKind.OVERDOSE_RISK in kinds) == overdose
    if overdose:
        alert = kinds[AlertKind.OVERDOSE_RISK]
        assert alert.immediate and alert.detail == NALOXONE_PROMPT and "naloxone" in alert.detail


def test_alcohol_return_carries_no_overdose_alert(
    theo: User, client_record: Client, episode: Episode
) -> None:
    services.return_to_use_report(
        actor=theo, client=client_record, day=days_ago(1), substance="alcohol",
        after_abstinent_days=40,
    )  # fmt: skip
    assert [a.kind for a in Alert.objects.all()] == [AlertKind.RETURN_TO_USE]
