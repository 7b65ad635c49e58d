"""Recovery selectors: what they return, one audit event each, and query counts that do not grow
with the client's history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.core.errors import Forbidden, NotFound
from iptcare.recovery import selectors
from tests.helpers import last_audit_id
from tests.recovery.conftest import TODAY, MakeScreen, RecordDays, days_ago


def test_abstinence_summary_per_substance_and_any(
    theo: User, client_record: Client, record_days: RecordDays
) -> None:
    record_days("uaaaaa", substance="heroin", end_ago=1)
    record_days("aau...", substance="alcohol", end_ago=1)
    before = last_audit_id()
    s = selectors.abstinence_summary(
        actor=theo, client=client_record, start=days_ago(10), end=days_ago(1)
    )
    assert AuditEvent.objects.filter(id__gt=before).count() == 1
    figures = {f.substance: f.figures for f in s.by_substance}
    assert list(figures) == ["alcohol", "heroin"]
    assert (figures["heroin"].days_with_data, figures["heroin"].percent_days_abstinent) == (6, 83.3)
    assert (figures["alcohol"].days_with_data, figures["alcohol"].percent_days_abstinent) == (
        3,
        66.7,
    )
    assert figures["alcohol"].days_unknown == 7
    any_ = s.any_substance.figures
    # Day 3 of 6: alcohol used; day 1: heroin used; the rest abstinent from what was asked.
    assert (any_.days_with_data, any_.days_abstinent, any_.current_streak) == (6, 4, 3)


def test_tlfb_month_grid(theo: User, client_record: Client, record_days: RecordDays) -> None:
    record_days("ua", substance="alcohol", end_ago=1)
    month = selectors.tlfb_month(
        actor=theo, client=client_record, year=TODAY.year, month=TODAY.month
    )
    assert all(len(week) == 7 for week in month.weeks)
    assert month.weeks[0][0].day.weekday() == 0
    cells = {c.day: c for week in month.weeks for c in week}
    in_month = [c for c in cells.values() if c.in_month]
    assert len(in_month) == (month.last - month.first).days + 1
    if days_ago(1).month == TODAY.month:
        assert cells[days_ago(1)].state == "abstinent"
    if days_ago(2) in cells:
        assert cells[days_ago(2)].state == "used"
    assert cells[TODAY].state == "unknown"


def test_screens_recent_newest_first_with_results(
    theo: User, client_record: Client, make_screen: MakeScreen
) -> None:
    old = make_screen(days_ago(9), cocaine="negative")
    new = make_screen(days_ago(2), cocaine="positive", thc="negative")
    screens = selectors.screens_recent(actor=theo, client=client_record)
    assert screens == [new, old]
    assert [r.analyte for r in screens[0].results.all()] == ["cocaine", "thc"]


@pytest.mark.parametrize("persona", ["tess", "remy"])
def test_outsiders_are_refused_and_recorded(
    request: pytest.FixtureRequest, client_record: Client, make_screen: MakeScreen, persona: str
) -> None:
    screen = make_screen(days_ago(1), cocaine="negative")
    actor: User = request.getfixturevalue(persona)
    calls: list[Callable[[], object]] = [
        lambda: selectors.screens_recent(actor=actor, client=client_record),
        lambda: selectors.screen_get(actor=actor, public_id=screen.public_id),
        lambda: selectors.tlfb_month(actor=actor, client=client_record, year=2026, month=1),
        lambda: selectors.abstinence_summary(actor=actor, client=client_record),
        lambda: selectors.return_to_use_events(actor=actor, client=client_record),
        lambda: selectors.use_days_between(
            actor=actor, client=client_record, start=days_ago(5), end=TODAY
        ),
        lambda: selectors.recovery_overview(
            actor=actor, client=client_record, year=TODAY.year, month=TODAY.month
        ),
    ]
    before = AuditEvent.objects.filter(outcome="denied").count()
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    assert AuditEvent.objects.filter(outcome="denied").count() == before + len(calls)


def test_another_organisation_gets_not_found(
    oscar: User, client_record: Client, make_screen: MakeScreen
) -> None:
    screen = make_screen(days_ago(1), cocaine="negative")
    with pytest.raises(NotFound):
        selectors.screen_get(actor=oscar, public_id=screen.public_id)
    with pytest.raises(NotFound):
        selectors.recovery_overview(actor=oscar, client=client_record, year=2026, month=1)


# --- query-count guards: a short history, then a long one: the same number of queries -------


def _history(record_days: RecordDays, make_screen: MakeScreen, n: int, end_ago: int) -> None:
    """``6n`` days of heroin, ``6n`` of alcohol and ``2n`` screens ending ``end_ago`` days ago."""
    record_days("aaaaau" * n, substance="heroin", end_ago=end_ago)
    record_days("aau" * 2 * n, substance="alcohol", end_ago=end_ago)
    for i in range(2 * n):
        make_screen(
            days_ago(end_ago + 3 * i), fentanyl="positive", cocaine="negative", thc="invalid"
        )


def _count(fn: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "which", ["overview", "screens", "month", "summary", "events", "days", "since"]
)
def test_query_counts_do_not_grow_with_history(
    theo: User,
    client_record: Client,
    record_days: RecordDays,
    make_screen: MakeScreen,
    which: str,
) -> None:
    calls: dict[str, Callable[[], object]] = {
        "overview": lambda: selectors.recovery_overview(
            actor=theo, client=client_record, year=TODAY.year, month=TODAY.month
        ),
        "screens": lambda: selectors.screens_recent(actor=theo, client=client_record),
        "month": lambda: selectors.tlfb_month(
            actor=theo, client=client_record, year=TODAY.year, month=TODAY.month
        ),
        "summary": lambda: selectors.abstinence_summary(actor=theo, client=client_record),
        "events": lambda: [
            (e.screen, e.episode, e.created_by)
            for e in selectors.return_to_use_events(actor=theo, client=client_record)
        ],
        "days": lambda: selectors.use_days_between(
            actor=theo, client=client_record, start=days_ago(60), end=TODAY
        ),
        "since": lambda: [
            (e.client, e.screen)
            for e in selectors.return_to_use_events_since(
                client_ids=[client_record.pk], since=timezone.now() - timedelta(days=1)
            )
        ],
    }
    _history(record_days, make_screen, 1, end_ago=1)
    small = _count(calls[which])
    _history(record_days, make_screen, 8, end_ago=7)
    assert _count(calls[which]) == small
    if which == "overview":
        assert small <= 8  # audit append + five reads, whatever the history
