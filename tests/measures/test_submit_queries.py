"""A client's link submit: one transaction through the ORM, at most 10 SQL statements (ADR 0015).

Counts are exact: every statement Django sends is listed, transaction control included (in a
test the submit's transaction is a SAVEPOINT inside the test's own; outside it is BEGIN/COMMIT).

The page reads the link, then ``administration_submit`` runs one transaction: the client's open
episode with what the alert rules need (one query), the administration, the link spent by a
conditional UPDATE, the alert rules (when they find something: the client's row locked, the open
alerts of the same causes read, the new ones inserted), and the write's audit event (PostgreSQL:
the chain's advisory lock; both: the head, then the event).
"""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit import chain
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import NotFound
from iptcare.measures import services
from iptcare.measures.models import Administration, Alert, AlertKind, MeasureLink
from tests.helpers import other_pg_session
from tests.test_caseload_chart import _episode

NO_FLAG = {str(n): "1" for n in range(1, 9)} | {"9": "0"}  # total 8, same as the baseline
ITEM_9 = {str(n): "1" for n in range(1, 9)} | {"9": "1"}  # total 9: a safety flag
WORSE = {str(n): "2" for n in range(1, 7)} | {"7": "1", "8": "1", "9": "0"}  # 14: +6 on 8
BUDGET = 10  # statements per submit, the link read included (bench/submit.py GOAL_QUERIES)


def _verbs(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split()[0].upper() for q in ctx.captured_queries]


def _audit() -> list[str]:
    """The audit append: the chain's lock (PostgreSQL), its head, the event."""
    lock = ["SELECT"] if connection.vendor == "postgresql" else []
    return [*lock, "SELECT", "INSERT"]


def _submit(*, alerts: int) -> list[str]:
    """The statements of a link submit in a test (module docstring), the link read first."""
    raise_alerts = ["SELECT", "SELECT", "INSERT"] if alerts else []
    return [
        "SELECT",  # the link
        "SAVEPOINT",
        "SELECT",  # the open episode with the rules' history
        "INSERT",  # the administration
        "UPDATE",  # the link spent
        *raise_alerts,  # the client's row locked, the open alerts of these causes, the new ones
        *_audit(),
        "RELEASE",
    ]


def _link_with_history(theo: User, client_record: Client) -> str:
    """An admitted client with an earlier PHQ-9 (a baseline) and a fresh link: the common case,
    with every rule that reads history (deterioration, not on track) evaluated."""
    _episode(client_record, theo)
    services.administer(actor=theo, client=client_record, instrument_code="phq-9", answers=NO_FLAG)
    return services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    ).secret


def _statements_outside_a_test(verbs: list[str]) -> int:
    """What the same submit sends outside a test's transaction: BEGIN (IMMEDIATE, SQLite) and
    COMMIT instead of SAVEPOINT and RELEASE; Django logs SQLite's BEGIN, neither logs COMMIT."""
    begin = 1 if connection.vendor == "sqlite" else 0
    return len([v for v in verbs if v not in ("SAVEPOINT", "RELEASE")]) + begin


def test_link_submit_without_alert(theo: User, client_record: Client) -> None:
    secret = _link_with_history(theo, client_record)
    with CaptureQueriesContext(connection) as ctx:
        administration = services.link_submit(secret=secret, answers=NO_FLAG)
    assert _verbs(ctx) == _submit(alerts=0)
    assert _statements_outside_a_test(_verbs(ctx)) <= BUDGET
    assert administration.total == 8 and not Alert.objects.exists()
    assert MeasureLink.objects.get().administration == administration
    (event,) = AuditEvent.objects.filter(resource_id=str(administration.public_id))
    assert event.resource_type == "administration" and event.outcome == "success"
    assert event.actor_email == "client (single-use link)" and event.actor_id is None
    assert chain.verify().ok


def test_link_submit_with_a_safety_alert(theo: User, client_record: Client) -> None:
    secret = _link_with_history(theo, client_record)
    with CaptureQueriesContext(connection) as ctx:
        administration = services.link_submit(secret=secret, answers=ITEM_9)
    assert _verbs(ctx) == _submit(alerts=1)
    assert _statements_outside_a_test(_verbs(ctx)) <= BUDGET
    (alert,) = Alert.objects.all()
    assert alert.kind == AlertKind.SAFETY and alert.clinician == theo
    assert alert.source_id == str(administration.public_id)
    assert AuditEvent.objects.filter(resource_id=str(administration.public_id)).count() == 1


def test_the_page_reads_the_link_once(theo: User, client_record: Client) -> None:
    """The public form POST: the view reads the link, validates the answers and hands the link to
    the service, which does not read it again; no session or other reads for an anonymous
    client: the service's statements, and the request's edge appends nothing more."""
    secret = _link_with_history(theo, client_record)
    http = HttpClient()
    form = {f"item_{n}": v for n, v in NO_FLAG.items()}
    with CaptureQueriesContext(connection) as ctx:
        response = http.post(f"/m/{secret}/", form)
    assert response.status_code == 200
    assert _verbs(ctx) == _submit(alerts=0)
    assert Administration.objects.count() == 2


# --- what the submit must keep ------------------------------------------------------------


def test_a_link_spent_by_another_tab_during_the_submit_keeps_nothing(
    theo: User, client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other tab's submit commits just after this one stored its administration and before
    it spends the link: the conditional update matches nothing and nothing is kept."""
    secret = _link_with_history(theo, client_record)
    save = Administration.save

    def other_tab_meanwhile(self: Administration, *args: Any, **kwargs: Any) -> None:
        save(self, *args, **kwargs)
        MeasureLink.objects.update(used_at=timezone.now())

    monkeypatch.setattr(Administration, "save", other_tab_meanwhile)
    events = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        services.link_submit(secret=secret, answers=ITEM_9)
    assert Administration.objects.count() == 1  # the in-session baseline only
    assert not Alert.objects.exists()
    # One event: the failure, naming the error's kind (recorded after the rollback).
    (failure,) = AuditEvent.objects.order_by("pk")[events:]
    assert (failure.outcome, failure.reason) == ("failure", "failed: NotFound (404)")
    assert MeasureLink.objects.get().administration is None
    assert chain.verify().ok


def test_history_read_in_the_transaction_raises_deterioration(
    theo: User, client_record: Client
) -> None:
    secret = _link_with_history(theo, client_record)  # baseline 8
    services.link_submit(secret=secret, answers=WORSE)
    (alert,) = Alert.objects.all()
    assert alert.kind == AlertKind.DETERIORATION and alert.clinician == theo


def test_a_link_outliving_its_episode_files_under_the_current_one(
    theo: User, tess: User, client_record: Client
) -> None:
    secret = _link_with_history(theo, client_record)
    first = Episode.objects.get()
    Episode.objects.filter(pk=first.pk).update(
        status="discharged", discharge_date=date.today(), discharge_reason="completed"
    )
    second = _episode(client_record, tess)
    administration = services.link_submit(secret=secret, answers=ITEM_9)
    assert administration.episode == second
    (alert,) = Alert.objects.all()
    assert alert.kind == AlertKind.SAFETY and alert.clinician == tess


def test_an_unresolved_alert_of_the_same_cause_gets_no_second_one(
    theo: User, client_record: Client
) -> None:
    secret = _link_with_history(theo, client_record)
    services.link_submit(secret=secret, answers=WORSE)
    again = services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    ).secret
    services.link_submit(secret=again, answers=WORSE)  # still deteriorated: same cause
    assert Alert.objects.filter(kind=AlertKind.DETERIORATION).count() == 1
    assert Administration.objects.count() == 3


def test_bad_answers_change_nothing_and_leave_the_link_usable(
    theo: User, client_record: Client
) -> None:
    secret = _link_with_history(theo, client_record)
    http = HttpClient()
    response = http.post(f"/m/{secret}/", {"item_1": "9"})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert Administration.objects.count() == 1
    assert MeasureLink.objects.get().used_at is None
    form = {f"item_{n}": v for n, v in NO_FLAG.items()}
    assert http.post(f"/m/{secret}/", form).status_code == 200
    assert http.post(f"/m/{secret}/", form).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_submits_of_one_link_at_once_store_one_administration(
    theo: User, client_record: Client
) -> None:
    secret = _link_with_history(theo, client_record)
    outcome: list[str] = []
    start = threading.Barrier(2)

    def submit() -> None:
        try:
            start.wait()
            services.link_submit(secret=secret, answers=ITEM_9)
            outcome.append("kept")
        except NotFound:
            outcome.append("gone")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcome) == ["gone", "kept"]
    assert Administration.objects.filter(mode="link").count() == 1
    assert Alert.objects.filter(kind=AlertKind.SAFETY).count() == 1
    created = AuditEvent.objects.filter(resource_type="administration", outcome="success")
    assert created.count() == 2  # the in-session baseline and one link submit
    assert chain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_submit_waiting_for_another_tab_holds_no_audit_lock(
    theo: User, client_record: Client
) -> None:
    """PostgreSQL, two sessions: another tab has spent the link and not yet committed. This
    submit waits for the link's row lock — without holding the audit chain's lock meanwhile
    (every write takes it last, with its event, so none can deadlock over it) — then finds the
    link spent and keeps nothing."""
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"  # one writer at a time: the tests above
        return
    secret = _link_with_history(theo, client_record)
    link = MeasureLink.objects.get()
    outcome: list[str] = []

    def submit() -> None:
        try:
            services.link_submit(secret=secret, answers=ITEM_9)
            outcome.append("kept")
        except NotFound:
            outcome.append("gone")
        finally:
            connections.close_all()

    # A session of its own: in a transaction pg_stat_activity stays as it was first read.
    with other_pg_session(autocommit=False) as other, other_pg_session() as watcher:
        other.execute(
            "UPDATE measures_measurelink SET used_at = now() WHERE id = %s", [link.pk]
        )  # the other tab's submit, not committed yet: it holds the row
        thread = threading.Thread(target=submit)
        thread.start()
        waiting: list[tuple[Any, ...]] = []
        for _ in range(1000):  # until the submit waits for the row (at most 10 s)
            waiting = watcher.execute(
                "SELECT a.pid, (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid"
                " AND l.locktype = 'advisory' AND l.granted)"
                " FROM pg_stat_activity a WHERE a.datname = current_database()"
                " AND a.wait_event_type = 'Lock'"
            ).fetchall()
            if waiting or not thread.is_alive():
                break
            time.sleep(0.01)
        assert len(waiting) == 1, "the submit should wait for the link's row lock"
        assert waiting[0][1] == 0, "it must not hold the audit chain's lock while it waits"
        other.commit()
    thread.join(timeout=10)
    assert outcome == ["gone"]
    assert Administration.objects.count() == 1  # the in-session baseline only
    assert not Alert.objects.exists()
    assert MeasureLink.objects.get().administration is None and chain.verify().ok


def test_an_empty_submission_stores_nothing_and_keeps_the_link(
    theo: User, client_record: Client
) -> None:
    secret = _link_with_history(theo, client_record)
    http = HttpClient()
    response = http.post(f"/m/{secret}/", {})
    assert response.status_code == 400
    assert b"Answer at least one question." in response.content
    assert Administration.objects.count() == 1  # the in-session baseline only
    assert MeasureLink.objects.get().used_at is None
