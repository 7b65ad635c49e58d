"""Batched audit appends (one transaction per page) and SQLite's blocking writer queue."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.access.vocabulary import Action, DataCategory
from iptcare.accounts.models import User
from iptcare.audit import chain
from iptcare.audit.models import AuditEvent, Outcome
from iptcare.audit.services import batched, record
from iptcare.clients.models import Client
from iptcare.core.db.sqlite3.base import DatabaseWrapper
from tests.helpers import scratch_sqlite, writelock_is_free
from tests.test_caseload_chart import _episode

# Tests of one chain's links, tampering and lock, by seq (multi-chain: test_audit_chains.py).
pytestmark = pytest.mark.usefixtures("one_chain")


def _event(reason: str) -> AuditEvent | None:
    return record(
        actor=None,
        actor_email="batch@example.org",
        action=Action.VIEW,
        data_category=DataCategory.DEMOGRAPHICS,
        outcome=Outcome.ALLOWED,
        reason=reason,
    )


@pytest.mark.django_db(transaction=True)
def test_batched_events_are_written_together_on_exit_in_order() -> None:
    with batched():
        assert _event("one") is None
        assert _event("two") is None
        assert AuditEvent.objects.count() == 0
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "reason")) == [
        (1, "one"),
        (2, "two"),
    ]
    assert chain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_batched_events_are_written_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError), batched():
        _event("denied, then the page raised")
        raise RuntimeError("refused")
    assert list(AuditEvent.objects.values_list("reason", flat=True)) == [
        "denied, then the page raised"
    ]


@pytest.mark.django_db(transaction=True)
def test_an_event_inside_a_write_transaction_is_written_at_once() -> None:
    with batched():
        with transaction.atomic():
            assert _event("with the write") is not None
            assert AuditEvent.objects.count() == 1
        _event("a read after it")
        assert AuditEvent.objects.count() == 1
    assert AuditEvent.objects.count() == 2
    assert chain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_nested_batches_join_the_outer_one() -> None:
    with batched():
        with batched():
            _event("inner")
        assert AuditEvent.objects.count() == 0
        _event("outer")
    assert list(AuditEvent.objects.order_by("seq").values_list("reason", flat=True)) == [
        "inner",
        "outer",
    ]


@pytest.mark.django_db(transaction=True)
def test_chart_appends_its_four_events_under_one_lock(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    _episode(client_record, theo)
    http = login_as(theo)
    url = f"/clients/{client_record.public_id}/"
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        assert http.get(url).status_code == 200
    table = AuditEvent._meta.db_table
    inserts = [q for q in ctx.captured_queries if f'INSERT INTO "{table}"' in q["sql"]]
    head_reads = [q for q in ctx.captured_queries if "SELECT seq, hash" in q["sql"]]
    assert len(inserts) == 1  # all four rows in one INSERT
    if connection.vendor == "postgresql":
        # The INSERT takes the lock and reads the head itself (iptcare_audit_next, ADR 0012).
        assert "iptcare_audit_next(" in inserts[0]["sql"] and head_reads == []
    else:  # SQLite reads the head under its write lock, before the INSERT
        assert len(head_reads) == 1
    events = list(AuditEvent.objects.order_by("seq")[before:])
    # Identity, then the clinical record, appointments and notes (the category covers all three).
    assert [(e.data_category, e.resource_type) for e in events] == [
        ("demographics", "client"),
        ("clinical_record", "client"),
        ("clinical_record", "client"),
        ("clinical_record", "client"),
    ]
    assert {e.client_id for e in events} == {client_record.public_id}
    assert chain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_large_batch_is_written_in_several_inserts_with_each_row_its_own_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chain, "_ROWS_PER_INSERT", 3)
    with CaptureQueriesContext(connection) as ctx, batched():
        for n in range(7):
            _event(f"event {n}")
    inserts = [q for q in ctx.captured_queries if "INSERT INTO" in q["sql"]]
    assert len(inserts) == 3  # 3 + 3 + 1 rows
    stored = list(AuditEvent.objects.order_by("seq").values_list("id", "seq", "reason"))
    assert [(seq, reason) for _, seq, reason in stored] == [(n + 1, f"event {n}") for n in range(7)]
    with transaction.atomic():
        returned = chain.append_many([_fields(f"direct {n}") for n in range(4)])
    assert [(e.id, e.seq, e.reason) for e in returned] == list(
        AuditEvent.objects.filter(seq__gt=7).order_by("seq").values_list("id", "seq", "reason")
    )
    assert len({e.id for e in returned}) == 4
    assert chain.verify().ok


def _fields(reason: str) -> dict[str, Any]:
    """One event's fields as ``record`` hands them to the chain."""
    return {
        "occurred_at": timezone.now(),
        "actor_id": None,
        "actor_email": "batch@example.org",
        "actor_role": "",
        "organisation_id": None,
        "client_id": None,
        "data_category": str(DataCategory.DEMOGRAPHICS),
        "action": str(Action.VIEW),
        "resource_type": "",
        "resource_id": "",
        "purpose": "treatment",
        "outcome": str(Outcome.ALLOWED),
        "reason": reason,
        "request_id": "",
        "ip": None,
        "user_agent": "",
        "detail": {},
    }


# --- SQLite writer queue --------------------------------------------------------------------


@pytest.fixture
def sqlite_wrapper(tmp_path: Path, django_db_blocker: Any) -> Iterator[DatabaseWrapper]:
    """A connection of our SQLite backend to a scratch file (on either CI database)."""
    django_db_blocker.unblock()  # a connection of its own, outside pytest-django's test DB
    wrapper = scratch_sqlite(tmp_path / "scratch.sqlite3")
    yield wrapper
    wrapper.close()
    django_db_blocker.restore()


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_the_writer_lock_is_held_for_exactly_one_transaction(
    sqlite_wrapper: DatabaseWrapper, end: str
) -> None:
    lock = f"{sqlite_wrapper.settings_dict['NAME']}.writelock"
    assert writelock_is_free(lock)
    sqlite_wrapper._start_transaction_under_autocommit()
    with sqlite_wrapper.cursor() as cursor:
        cursor.execute("INSERT INTO t (v) VALUES ('x')")
    assert not writelock_is_free(lock), "a second writer must queue while this one writes"
    if end == "commit":
        sqlite_wrapper.commit()
    elif end == "rollback":
        sqlite_wrapper.rollback()
    else:
        sqlite_wrapper.close()
    assert writelock_is_free(lock)
    with sqlite_wrapper.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        assert cursor.fetchone()[0] == (1 if end == "commit" else 0)


def test_reads_outside_a_transaction_do_not_take_the_writer_lock(
    sqlite_wrapper: DatabaseWrapper,
) -> None:
    lock = f"{sqlite_wrapper.settings_dict['NAME']}.writelock"
    with sqlite_wrapper.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        assert not os.path.exists(lock) or writelock_is_free(lock)
