"""Withdrawing a return-to-use event resolves the alerts it raised — in the same transaction,
those of that event only, with the reason, by the withdrawing user, each resolution named in the
withdrawing write's one audit event — and a refused withdrawal changes no alert."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import Conflict, Forbidden, InvalidInput
from iptcare.measures import services as measure_services
from iptcare.measures.models import Alert, AlertKind, AlertStatus
from iptcare.recovery import selectors, services
from iptcare.recovery.models import ReturnToUseEvent, UseDay, UseDaySource
from iptcare.recovery.services import UseDayInput
from tests.helpers import last_audit_id
from tests.recovery.conftest import TODAY, MakeScreen, RecordDays, days_ago

CALENDAR_REASON = "calendar corrected: return to use recounted"
SCREEN_REASON = "screen result marked expected"


def _alerts_of(event: ReturnToUseEvent) -> dict[str, Alert]:
    return {a.kind: a for a in Alert.objects.filter(source_id=str(event.public_id))}


def _alert_state() -> list[tuple[Any, ...]]:
    return list(
        Alert.objects.order_by("id").values_list(
            "id", "status", "version", "resolved_by", "resolution_note"
        )
    )


def _resolutions(since: int) -> list[dict[str, Any]]:
    """The alert resolutions named by the writes after ``since``: a resolution is part of the
    write that withdrew its cause (``detail["also"]``), never an event of its own."""
    assert not AuditEvent.objects.filter(id__gt=since, resource_type="alert").exists()
    return [
        also
        for event in AuditEvent.objects.filter(id__gt=since).order_by("id")
        for also in event.detail.get("also", [])
        if also["resource_type"] == "alert"
    ]


def _correct_day_back(actor: User, client: Client, day_ago: int = 1) -> services.UseDaysOutcome:
    """The day recorded as used ``day_ago`` days ago was in fact a day without use."""
    row = UseDay.objects.get(client=client, date=days_ago(day_ago), substance="heroin")
    return services.use_days_record(
        actor=actor,
        client=client,
        start=row.date,
        end=row.date,
        days=[UseDayInput(day=row.date, substance="heroin", used=False, version=row.version)],
        source=UseDaySource.CLINICIAN_INTERVIEW,
    )


def test_calendar_correction_resolves_both_alerts_of_that_event_and_no_other(
    theo: User,
    nina: User,
    client_record: Client,
    episode: Episode,
    record_days: RecordDays,
) -> None:
    [event] = record_days("uaaaaaaau").events_created
    assert event.overdose_risk
    other = services.return_to_use_report(
        actor=theo, client=client_record, day=days_ago(20), substance="alcohol",
        after_abstinent_days=40,
    )  # fmt: skip
    raised = _alerts_of(event)
    assert set(raised) == {AlertKind.RETURN_TO_USE, AlertKind.OVERDOSE_RISK}
    assert all(a.status == AlertStatus.OPEN and a.clinician == theo for a in raised.values())
    [other_alert] = _alerts_of(other).values()
    since = last_audit_id()

    # Nina (a nurse on the program, not the alerts' clinician) corrects the calendar.
    outcome = _correct_day_back(nina, client_record)

    assert outcome.events_withdrawn == [event]
    for kind, before in raised.items():
        after = Alert.objects.get(pk=before.pk)
        assert after.status == AlertStatus.RESOLVED, kind
        assert after.resolved_by == nina and after.resolved_at is not None
        assert after.version == before.version + 1
        assert "withdrawn" in after.resolution_note and CALENDAR_REASON in after.resolution_note
    other_alert.refresh_from_db()
    assert (other_alert.status, other_alert.version, other_alert.resolved_by) == (
        AlertStatus.OPEN,
        1,
        None,
    )
    # One event: nina's correction of the calendar, naming the withdrawal and both resolutions.
    [write] = AuditEvent.objects.filter(id__gt=since)
    assert (write.action, write.outcome, write.actor_id, write.client_id) == (
        "update",
        "success",
        nina.public_id,
        client_record.public_id,
    )
    assert write.detail["withdrawn_events"] == [str(event.public_id)]
    audited = _resolutions(since)
    assert sorted(r["resource_id"] for r in audited) == sorted(
        str(a.public_id) for a in raised.values()
    )
    for r in audited:
        assert r["action"] == "update"
        assert r["alert"] == "resolve" and r["source_id"] == str(event.public_id)
    assert CALENDAR_REASON not in str(write.detail)  # the note stays in the clinical table


def test_a_recount_resolves_the_old_events_alert_and_leaves_the_new_ones_open(
    theo: User, client_record: Client, episode: Episode, record_days: RecordDays
) -> None:
    [first] = record_days("aaau").events_created
    [first_alert] = _alerts_of(first).values()
    assert first_alert.kind == AlertKind.RETURN_TO_USE
    outcome = record_days("aaaaaaaaa", end_ago=5)
    [recount] = outcome.events_created
    first_alert.refresh_from_db()
    assert first_alert.status == AlertStatus.RESOLVED and first_alert.resolved_by == theo
    new_alerts = _alerts_of(recount)
    assert set(new_alerts) == {AlertKind.RETURN_TO_USE, AlertKind.OVERDOSE_RISK}
    assert all(a.status == AlertStatus.OPEN for a in new_alerts.values())


def test_marking_a_screen_expected_resolves_its_events_open_overdose_alert(
    theo: User,
    client_record: Client,
    episode: Episode,
    record_days: RecordDays,
    make_screen: MakeScreen,
) -> None:
    record_days("aaaaaaa", end_ago=1)
    screen = make_screen(TODAY, fentanyl="positive")
    [event] = ReturnToUseEvent.objects.all()
    [overdose] = _alerts_of(event).values()
    # Immediate and never acknowledged: alert_resolve alone would refuse it.
    assert overdose.kind == AlertKind.OVERDOSE_RISK and overdose.immediate
    assert overdose.status == AlertStatus.OPEN
    since = last_audit_id()
    loaded = selectors.screen_get(actor=theo, public_id=screen.public_id)
    services.screen_mark_expected(
        actor=theo, screen=loaded, version=1, analytes=["fentanyl"], reason="hospital stay"
    )
    overdose.refresh_from_db()
    assert overdose.status == AlertStatus.RESOLVED and overdose.resolved_by == theo
    assert overdose.version == 2 and SCREEN_REASON in overdose.resolution_note
    # No unexpected positive is left, so the screen's own alert lost its cause too (ADR 0008).
    screen_alert = Alert.objects.get(source_type="drug_screen", source_id=str(screen.public_id))
    assert screen_alert.status == AlertStatus.RESOLVED
    assert "hospital stay" in screen_alert.resolution_note
    assert {r["resource_id"] for r in _resolutions(since)} == {
        str(overdose.public_id),
        str(screen_alert.public_id),
    }
    [write] = AuditEvent.objects.filter(id__gt=since, action="update")
    assert (write.outcome, write.resource_type) == ("success", "drug_screen")


def test_a_screen_alert_stays_open_while_an_unexpected_positive_is_left(
    theo: User,
    client_record: Client,
    episode: Episode,
    record_days: RecordDays,
    make_screen: MakeScreen,
) -> None:
    record_days("aaaaaaa", end_ago=1)
    screen = make_screen(TODAY, fentanyl="positive", cocaine="positive")
    screen_alert = Alert.objects.get(source_type="drug_screen", source_id=str(screen.public_id))
    loaded = selectors.screen_get(actor=theo, public_id=screen.public_id)
    services.screen_mark_expected(
        actor=theo, screen=loaded, version=1, analytes=["fentanyl"], reason="hospital stay"
    )
    screen_alert.refresh_from_db()
    assert screen_alert.status == AlertStatus.OPEN


def test_an_alert_already_resolved_stays_as_it_was(
    theo: User,
    nina: User,
    client_record: Client,
    episode: Episode,
    record_days: RecordDays,
) -> None:
    [event] = record_days("uaaaaaaau").events_created
    raised = _alerts_of(event)
    done = measure_services.alert_resolve(
        actor=theo,
        alert=raised[AlertKind.RETURN_TO_USE],
        version=1,
        note="Discussed in session.",
    )
    since = last_audit_id()
    _correct_day_back(nina, client_record)
    kept = Alert.objects.get(pk=done.pk)
    assert (kept.resolved_by, kept.resolution_note, kept.version, kept.resolved_at) == (
        theo,
        "Discussed in session.",
        2,
        done.resolved_at,
    )
    overdose = Alert.objects.get(pk=raised[AlertKind.OVERDOSE_RISK].pk)
    assert overdose.status == AlertStatus.RESOLVED and overdose.resolved_by == nina
    assert [r["resource_id"] for r in _resolutions(since)] == [str(overdose.public_id)]


def test_refused_calendar_corrections_change_no_alert(
    theo: User,
    tess: User,
    client_record: Client,
    episode: Episode,
    record_days: RecordDays,
) -> None:
    record_days("uaaaaaaau")
    row = UseDay.objects.get(date=days_ago(1))
    undo = UseDayInput(day=row.date, substance="heroin", used=False, version=row.version)
    kwargs: dict[str, Any] = {
        "client": client_record,
        "start": row.date,
        "end": row.date,
        "source": UseDaySource.CLINICIAN_INTERVIEW,
    }
    before = _alert_state()
    assert len(before) == 2
    with pytest.raises(Forbidden):  # off-program
        services.use_days_record(actor=tess, days=[undo], **kwargs)
    with pytest.raises(Conflict):  # stale version
        services.use_days_record(actor=theo, days=[replace(undo, version=9)], **kwargs)
    with pytest.raises(InvalidInput):  # an amount on a day without use
        services.use_days_record(actor=theo, days=[replace(undo, amount="1 bag")], **kwargs)
    assert _alert_state() == before
    assert not ReturnToUseEvent.objects.filter(withdrawn_at__isnull=False).exists()


def test_refused_mark_expected_changes_no_alert(
    theo: User,
    tess: User,
    client_record: Client,
    episode: Episode,
    record_days: RecordDays,
    make_screen: MakeScreen,
) -> None:
    record_days("aaaaaaa", end_ago=1)
    screen = make_screen(TODAY, fentanyl="positive")
    loaded = selectors.screen_get(actor=theo, public_id=screen.public_id)
    before = _alert_state()
    assert len(before) == 2  # the screen's unexpected positive and the event's overdose risk
    with pytest.raises(Forbidden):
        services.screen_mark_expected(
            actor=tess, screen=loaded, version=1, analytes=["fentanyl"], reason="x"
        )
    with pytest.raises(Conflict):
        services.screen_mark_expected(
            actor=theo, screen=loaded, version=5, analytes=["fentanyl"], reason="x"
        )
    with pytest.raises(InvalidInput):
        services.screen_mark_expected(
            actor=theo, screen=loaded, version=1, analytes=["fentanyl"], reason="  "
        )
    assert _alert_state() == before
    assert not ReturnToUseEvent.objects.filter(withdrawn_at__isnull=False).exists()
