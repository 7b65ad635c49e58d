"""The SQL a client's link submit costs (issue 5 goal: at most 8 queries per submit).

Counts are exact: every statement Django sends is listed, transaction control included (in a
test the submit's transaction is a SAVEPOINT inside the test's own; outside it is BEGIN/COMMIT,
the same count, or on PostgreSQL none at all).

- SQLite: the link, then a transaction: the administration, its alerts (if any), the link spent,
  the audit event (the chain's head, read under the write lock, then the INSERT): 7 statements,
  8 with alerts.
- PostgreSQL: the link, then every write in one statement that is its own transaction (ADR
  0013): 2 statements, alerts or not (4 in a test: the savepoint around it).
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit import chain
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.db import statement
from iptcare.core.errors import NotFound
from iptcare.measures import services
from iptcare.measures.models import Administration, Alert, AlertKind, MeasureLink
from tests.helpers import other_pg_session
from tests.test_caseload_chart import _episode

NO_FLAG = {str(n): "1" for n in range(1, 9)} | {"9": "0"}  # total 8, same as the baseline
ITEM_9 = {str(n): "1" for n in range(1, 9)} | {"9": "1"}  # total 9: a safety flag


def _verbs(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split()[0].upper() for q in ctx.captured_queries]


def _submit(alerts: int = 0) -> list[str]:
    """The statements of a link submit in a test (module docstring), after reading the link."""
    if connection.vendor == "postgresql":
        return ["SAVEPOINT", "WITH", "RELEASE"]
    return ["SAVEPOINT", "INSERT", *["INSERT"] * alerts, "UPDATE", "SELECT", "INSERT", "RELEASE"]


def _link_with_history(theo: User, client_record: Client) -> str:
    """An admitted client with an earlier PHQ-9 (a baseline) and a fresh link: the common case,
    with every rule that reads history (deterioration, not on track) evaluated."""
    _episode(client_record, theo)
    services.administer(actor=theo, client=client_record, instrument_code="phq-9", answers=NO_FLAG)
    return services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    ).secret


def test_link_submit_without_alert(theo: User, client_record: Client) -> None:
    secret = _link_with_history(theo, client_record)
    with CaptureQueriesContext(connection) as ctx:
        administration = services.link_submit(secret=secret, answers=NO_FLAG)
    # link (+ episode, open episode, baseline, sessions attended) | administration, link spent
    # and linked, audit event.
    assert _verbs(ctx) == ["SELECT", *_submit()]
    assert len(ctx) == (4 if connection.vendor == "postgresql" else 7)
    assert administration.total == 8 and not Alert.objects.exists()
    assert MeasureLink.objects.get().administration == administration
    (event,) = AuditEvent.objects.filter(resource_id=str(administration.public_id))
    assert event.resource_type == "administration" and chain.verify().ok


def test_link_submit_with_a_safety_alert(theo: User, client_record: Client) -> None:
    secret = _link_with_history(theo, client_record)
    with CaptureQueriesContext(connection) as ctx:
        administration = services.link_submit(secret=secret, answers=ITEM_9)
    assert _verbs(ctx) == ["SELECT", *_submit(alerts=1)]
    assert len(ctx) == (4 if connection.vendor == "postgresql" else 8)
    (alert,) = Alert.objects.all()
    assert alert.kind == AlertKind.SAFETY and alert.clinician == theo
    assert alert.source_id == str(administration.public_id)
    assert AuditEvent.objects.filter(resource_id=str(administration.public_id)).count() == 1


def test_the_page_reads_the_link_once(theo: User, client_record: Client) -> None:
    """The public form POST: the view reads the link (with what the submit needs) before
    validating the form and hands it to the service, which does not read it again; no session
    or other reads for an anonymous client: the same statements as the service alone."""
    secret = _link_with_history(theo, client_record)
    http = HttpClient()
    form = {f"item_{n}": v for n, v in NO_FLAG.items()}
    with CaptureQueriesContext(connection) as ctx:
        response = http.post(f"/m/{secret}/", form)
    assert response.status_code == 200
    assert _verbs(ctx) == ["SELECT", *_submit()]
    assert Administration.objects.count() == 2


# --- what the fewer statements must not change --------------------------------------------------


def test_a_link_spent_by_another_tab_during_the_submit_keeps_nothing(
    theo: User, client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other tab's submit commits just before this one spends the link: on SQLite after this
    one's administration and alert are inserted, on PostgreSQL just before its one statement
    (which then writes them and aborts)."""
    secret = _link_with_history(theo, client_record)

    def other_tab() -> None:
        MeasureLink.objects.update(used_at=timezone.now())

    if connection.vendor == "postgresql":
        fetch_one = statement.fetch_one

        def other_tab_first(sql: str, params: Any) -> tuple[Any, ...]:
            other_tab()
            return fetch_one(sql, params)

        monkeypatch.setattr(statement, "fetch_one", other_tab_first)
    else:
        spend = services._SPEND_LINK

        class OtherTabFirst:
            def execute(self, **values: Any) -> int:
                assert Administration.objects.count() == 2 and Alert.objects.count() == 1
                other_tab()
                return spend.execute(**values)

        monkeypatch.setattr(services, "_SPEND_LINK", OtherTabFirst())
    events = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        services.link_submit(secret=secret, answers=ITEM_9)
    assert Administration.objects.count() == 1  # the in-session baseline only
    assert not Alert.objects.exists() and AuditEvent.objects.count() == events
    assert MeasureLink.objects.get().administration is None
    assert chain.verify().ok


def test_history_read_with_the_link_raises_deterioration(theo: User, client_record: Client) -> None:
    secret = _link_with_history(theo, client_record)  # baseline 8
    worse = {str(n): "2" for n in range(1, 7)} | {"7": "1", "8": "1", "9": "0"}  # 14: +6
    services.link_submit(secret=secret, answers=worse)
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


WORSE = {str(n): "2" for n in range(1, 7)} | {"7": "1", "8": "1", "9": "0"}  # 14: +6 on 8


def test_a_submit_that_opens_an_alert_adds_one_insert(theo: User, client_record: Client) -> None:
    secret = _link_with_history(theo, client_record)  # baseline 8
    with CaptureQueriesContext(connection) as ctx:
        services.link_submit(secret=secret, answers=WORSE)
    assert _verbs(ctx) == ["SELECT", *_submit(alerts=1)]
    (alert,) = Alert.objects.all()
    assert alert.kind == AlertKind.DETERIORATION


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


def test_ignoring_conflicts_skips_only_uniqueness_conflicts(
    theo: User, client_record: Client
) -> None:
    """On SQLite too (iptcare.core.db.sqlite3): a row that breaks NOT NULL is an error, never
    silently dropped as Django's INSERT OR IGNORE would."""
    secret = _link_with_history(theo, client_record)
    services.link_submit(secret=secret, answers=WORSE)
    (alert,) = Alert.objects.all()
    twin = Alert.objects.get(pk=alert.pk)
    twin.pk = twin.id = None
    twin.public_id = uuid.uuid4()
    Alert.objects.bulk_create([twin], ignore_conflicts=True)  # same open cause: skipped
    assert Alert.objects.count() == 1
    broken = Alert.objects.get(pk=alert.pk)
    broken.pk = broken.id = None
    broken.public_id = uuid.uuid4()
    broken.dedupe_key = "another cause"
    broken.title = None  # type: ignore[assignment]
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.bulk_create([broken], ignore_conflicts=True)
    assert Alert.objects.count() == 1


def test_the_audit_event_is_prepared_before_the_submit_takes_the_write_lock(
    theo: User, client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the event's place in the chain is computed under the lock (SQLite's writer is held
    from the transaction's start): its JSON and column values are prepared before it."""
    secret = _link_with_history(theo, client_record)
    depths: list[int] = []
    prepare_event = chain.PreparedEvent.__init__

    def spy(self: chain.PreparedEvent, fields: Any) -> None:
        depths.append(len(connection.atomic_blocks))
        prepare_event(self, fields)

    monkeypatch.setattr(chain.PreparedEvent, "__init__", spy)
    outside = len(connection.atomic_blocks)
    administration = services.link_submit(secret=secret, answers=NO_FLAG)
    assert depths == [outside]
    (event,) = AuditEvent.objects.filter(resource_id=str(administration.public_id))
    assert event.actor_email == "client (single-use link)" and chain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_two_tabs_at_once_keep_one_and_the_audit_lock_is_taken_last(
    theo: User, client_record: Client
) -> None:
    """Real concurrency (PostgreSQL, two sessions): another tab has spent the link and not yet
    committed. This submit waits for the link's row lock — without holding the audit chain's
    lock meanwhile (every transaction takes that one last, so none can deadlock with it) — then
    finds the link spent and keeps nothing."""
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"  # one writer at a time: the tab test above
        return
    secret = _link_with_history(theo, client_record)
    link = MeasureLink.objects.get()
    events = AuditEvent.objects.count()
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
    assert not Alert.objects.exists() and AuditEvent.objects.count() == events
    assert MeasureLink.objects.get().administration is None and chain.verify().ok


def test_the_link_read_names_only_columns_its_models_have(monkeypatch: pytest.MonkeyPatch) -> None:
    """``link_open`` builds the link, organisation, client and episode from one row; a column
    name that is not a field (a typo, a renamed field) is refused, not silently left out."""
    from django.core.exceptions import ImproperlyConfigured

    services._link_columns.cache_clear()
    monkeypatch.setattr(
        services,
        "_LINK_MODELS",
        (*services._LINK_MODELS[:2], (Client, "client__", frozenset({"id", "publik_id"}))),
    )
    try:
        with pytest.raises(ImproperlyConfigured, match=r"Client has no \['publik_id'\]"):
            services._link_columns()
    finally:
        services._link_columns.cache_clear()
    monkeypatch.undo()
    (_link, _org, client, episode) = services._link_columns()
    assert client[2] == (
        "id", "public_id", "organisation_id", "program_id", "sex_assigned_at_birth"
    )  # fmt: skip
    assert episode[1] == "episode__" and "primary_clinician_id" in episode[2]
