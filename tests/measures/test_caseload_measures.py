"""The caseload's measure columns: latest score with band, trend since baseline, open alerts
(safety highlighted), measures due/overdue — in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Program
from iptcare.measures.models import Alert, AlertKind
from iptcare.measures.schedule_services import schedule_set
from iptcare.measures.schedules import ScheduleRule
from iptcare.measures.selectors import measures_status_for_clients
from tests.measures.test_schedule_services import given
from tests.test_caseload_chart import _appointment, _client, _episode, _grow


def _alert(episode: Episode, kind: str, key: str, *, immediate: bool = False) -> Alert:
    return Alert.objects.create(
        organisation_id=episode.organisation_id,
        program_id=episode.program_id,
        client_id=episode.client_id,
        episode=episode,
        kind=kind,
        immediate=immediate,
        title=key,
        dedupe_key=key,
        clinician=episode.primary_clinician,
        raised_at=timezone.now(),
    )


def test_caseload_shows_scores_trend_alerts_and_due_measures(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    episode = _episode(client_record, theo)  # admitted 35 days ago
    given(episode, "phq-9", 35, total=20)
    given(episode, "phq-9", 7, total=8)  # 12 points down: reliable improvement
    given(episode, "gad-7", 35, total=10)
    given(episode, "gad-7", 7, total=11)
    _alert(episode, AlertKind.SAFETY, "safety:x", immediate=True)
    _alert(episode, AlertKind.NO_SHOWS, "no_shows")
    for days in (28, 21, 14, 7):
        _appointment(client_record, theo, -days, "attended")
    (row,) = login_as(theo).get("/caseload/").context["rows"]
    scores = {s.instrument: s for s in row.latest_scores}
    assert (scores["phq-9"].total, scores["phq-9"].trend) == (8, "improved")
    assert (scores["gad-7"].total, scores["gad-7"].trend) == (11, "no reliable change")
    assert (row.open_alerts, row.safety_alerts) == (2, 1)
    # Default schedule: AUDIT and DAST-10 never given (past the intake window); PHQ-9 and GAD-7
    # were given a week ago, after the 3rd of 4 sessions.
    assert sorted(d.instrument for d in row.measures_overdue) == ["audit", "dast-10"]
    assert row.measures_due == ()
    html = login_as(theo).get("/caseload/").content.decode()
    assert '<span title="band">PHQ-9 8</span> · improved' in html
    assert 'data-testid="safety-alerts">2 (1 safety)' in html
    assert "AUDIT overdue" in html and "DAST-10 overdue" in html
    assert f"/episodes/{episode.public_id}/measures/schedule/" in html


def test_current_open_episode_and_its_own_baseline(
    theo: User, client_record: Client, northside: Program
) -> None:
    old = _episode(client_record, theo, status="discharged")
    given(old, "phq-9", 100, total=27)
    current = _episode(client_record, theo)
    given(current, "phq-9", 10, total=12)
    schedule_set(
        actor=theo,
        episode=current,
        rows=[ScheduleRule("phq-9", at_admission=True)],
        based_on=0,
    )
    status = measures_status_for_clients(client_ids=[client_record.pk, 999_999])
    mine = status[client_record.pk]
    assert mine.episode_id == current.pk
    assert [(s.total, s.trend) for s in mine.latest] == [(12, "")]
    assert [d.state for d in mine.due] == ["done"]
    assert status[999_999].episode_id is None and status[999_999].due == ()


def test_caseload_queries_do_not_grow_with_clients_or_administrations(
    theo: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)

    def add_measures(start: int, count: int, per_client: int, alert: bool = True) -> None:
        for episode in Episode.objects.filter(
            client__record_number__in=[f"CL-{n:04d}" for n in range(start, start + count)]
        ):
            for i in range(per_client):
                given(episode, "phq-9", 30 - i, total=15 - i)
                given(episode, "audit", 30 - i, total=5)
            if alert:
                _alert(episode, AlertKind.SAFETY, f"safety:{episode.pk}", immediate=True)

    _grow(theo, northside, 1, 2)
    add_measures(1, 2, 1)
    schedule_set(
        actor=theo,
        episode=Episode.objects.filter(primary_clinician=theo).first(),  # type: ignore[arg-type]
        rows=[ScheduleRule("phq-9", every_days=7)],
        based_on=0,
    )
    http.get("/caseload/")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert http.get("/caseload/").status_code == 200
        return len(ctx.captured_queries)

    small = count()
    _grow(theo, northside, 10, 6)
    add_measures(10, 6, 5)
    add_measures(1, 2, 4, alert=False)  # more history for the first clients too
    rows = http.get("/caseload/").context["rows"]
    assert len(rows) == 8 and all(r.latest_scores and r.safety_alerts == 1 for r in rows)
    assert count() == small


def test_measures_status_is_five_queries_whatever_the_size(theo: User, northside: Program) -> None:
    clients = [_client(northside, n) for n in range(1, 6)]
    for c in clients:
        e = _episode(c, theo)
        given(e, "phq-9", 20, total=20)
        given(e, "phq-9", 3, total=9)
        _appointment(c, theo, -3, "attended")
    with CaptureQueriesContext(connection) as ctx:
        status = measures_status_for_clients(client_ids=[c.pk for c in clients])
    assert len(ctx.captured_queries) == 5
    assert all(s.latest and s.latest[0].trend == "improved" for s in status.values())
    with CaptureQueriesContext(connection) as ctx:
        assert measures_status_for_clients(client_ids=[]) == {}
    assert len(ctx.captured_queries) == 0
