"""The SQL a client's link submit costs (issue 5 goal: at most 8 queries per submit).

Counts are exact: every statement Django sends is listed, transaction control included (in a
test the submit's transaction is a SAVEPOINT inside the test's own; outside it is BEGIN/COMMIT,
the same count). The audit event is two statements on SQLite (the chain's head, read under the
write lock, then the INSERT) and one on PostgreSQL, where the INSERT itself takes the chain's lock
and reads its head (``iptcare_audit_next``, ADR 0012): a submit is 7 statements on SQLite and 6
on PostgreSQL, one more with alerts.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
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
from tests.test_caseload_chart import _episode

NO_FLAG = {str(n): "1" for n in range(1, 9)} | {"9": "0"}  # total 8, same as the baseline
ITEM_9 = {str(n): "1" for n in range(1, 9)} | {"9": "1"}  # total 9: a safety flag


def _verbs(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split()[0].upper() for q in ctx.captured_queries]


def _audit_append() -> list[str]:
    """The statements that append one audit event on this database."""
    return ["WITH"] if connection.vendor == "postgresql" else ["SELECT", "INSERT"]


def _link_with_history(theo: User, client_record: Client) -> str:
    """An admitted client with an earlier PHQ-9 (a baseline) and a fresh link: the common case,
    with every rule that reads history (deterioration, not on track) evaluated."""
    _episode(client_record, theo)
    services.administer(actor=theo, client=client_record, instrument_code="phq-9", answers=NO_FLAG)
    return services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    ).secret


def test_link_submit_without_alert_is_six_or_seven_statements(
    theo: User, client_record: Client
) -> None:
    secret = _link_with_history(theo, client_record)
    with CaptureQueriesContext(connection) as ctx:
        administration = services.link_submit(secret=secret, answers=NO_FLAG)
    # link (+ episode, open episode, baseline, sessions attended) | transaction: administration,
    # link spent and linked, audit event.
    expected = ["SELECT", "SAVEPOINT", "INSERT", "UPDATE", *_audit_append(), "RELEASE"]
    assert _verbs(ctx) == expected
    assert len(ctx) == (6 if connection.vendor == "postgresql" else 7)
    assert administration.total == 8 and not Alert.objects.exists()
    assert MeasureLink.objects.get().administration == administration


def test_link_submit_with_a_safety_alert_is_one_more(theo: User, client_record: Client) -> None:
    secret = _link_with_history(theo, client_record)
    with CaptureQueriesContext(connection) as ctx:
        administration = services.link_submit(secret=secret, answers=ITEM_9)
    expected = ["SELECT", "SAVEPOINT", "INSERT", "INSERT", "UPDATE"]
    assert _verbs(ctx) == [*expected, *_audit_append(), "RELEASE"]
    assert len(ctx) == (7 if connection.vendor == "postgresql" else 8)
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
    assert len(ctx) == (6 if connection.vendor == "postgresql" else 7)
    assert Administration.objects.count() == 2


# --- what the fewer statements must not change --------------------------------------------------


def test_a_link_spent_by_another_tab_during_the_submit_keeps_nothing(
    theo: User, client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _link_with_history(theo, client_record)

    spend = services._SPEND_LINK

    class OtherTabFirst:
        """The other tab's submit commits just before this one spends the link (after this
        one's administration and alert are inserted)."""

        def execute(self, **values: Any) -> int:
            assert Administration.objects.count() == 2 and Alert.objects.count() == 1
            MeasureLink.objects.update(used_at=timezone.now())
            return spend.execute(**values)

    monkeypatch.setattr(services, "_SPEND_LINK", OtherTabFirst())
    events = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        services.link_submit(secret=secret, answers=ITEM_9)
    assert Administration.objects.count() == 1  # the in-session baseline only
    assert not Alert.objects.exists() and AuditEvent.objects.count() == events
    assert MeasureLink.objects.get().administration is None


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
    expected = ["SELECT", "SAVEPOINT", "INSERT", "INSERT", "UPDATE"]
    assert _verbs(ctx) == [*expected, *_audit_append(), "RELEASE"]
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
