"""The audit trail: hash chain, tamper detection (edit, delete, insert, reorder), append-only
triggers on the running database (CI runs this file on SQLite and on PostgreSQL), concurrency."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from hypothesis import given
from hypothesis import strategies as st

from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.audit import chain, triggers
from iptcare.audit.models import GENESIS_HASH, AuditEvent, Outcome
from iptcare.audit.services import record


def _write(n: int, reason: str = "test") -> list[AuditEvent]:
    events = []
    for i in range(n):
        event = record(
            actor=None,
            actor_email=f"user{i}@example.org",
            action=Action.VIEW,
            data_category=DataCategory.DEMOGRAPHICS,
            outcome=Outcome.SUCCESS,
            reason=f"{reason} {i}",
            detail={"i": i, "nested": {"b": 2, "a": [1, "x"]}},
        )
        assert event is not None
        events.append(event)
    return events


def _raw(sql: str, params: list[Any] | None = None) -> None:
    """Tamper the way an attacker with database access would: triggers off, raw SQL."""
    triggers.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params or [])
    finally:
        triggers.install(connection)


def _verify_cli() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("audit", "verify", stdout=out)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue()


@pytest.mark.django_db
def test_chain_links_each_event_to_the_previous_one() -> None:
    events = _write(3)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    stored = AuditEvent.objects.get(seq=2)
    fields = {name: getattr(stored, name) for name in chain.HASHED_FIELDS}
    assert chain.compute_hash(fields) == stored.hash  # recomputes exactly after a round trip


@pytest.mark.django_db
def test_verify_passes_on_an_intact_trail() -> None:
    _write(5)
    code, out = _verify_cli()
    assert code == 0
    assert "intact: 5 events" in out


@pytest.mark.django_db
def test_edited_event_is_named() -> None:
    _write(5)
    _raw("UPDATE audit_auditevent SET reason = %s WHERE seq = 3", ["nothing to see"])
    result = chain.verify()
    assert (result.ok, result.bad_seq) == (False, 3)
    assert "edited" in result.problem
    code, message = _verify_cli()
    assert code == 1 and "event 0:3 (chain 0, seq 3," in message


@pytest.mark.django_db
def test_edited_timestamp_is_detected() -> None:
    events = _write(3)
    moved = events[1].occurred_at - timedelta(hours=1)
    _raw("UPDATE audit_auditevent SET occurred_at = %s WHERE seq = 2", [moved])
    assert chain.verify().bad_seq == 2


@pytest.mark.django_db
def test_deleted_event_is_named() -> None:
    _write(5)
    _raw("DELETE FROM audit_auditevent WHERE seq = 2")
    result = chain.verify()
    assert (result.ok, result.bad_seq) == (False, 3)
    assert "2 was expected" in result.problem


@pytest.mark.django_db
def test_inserted_event_is_named() -> None:
    events = _write(4)
    # Make room after seq 2 and insert a forged event that links correctly to seq 2:
    # the original seq 3 (now 4) no longer links to its predecessor.
    _raw("UPDATE audit_auditevent SET seq = seq + 100 WHERE seq >= 3")
    _raw("UPDATE audit_auditevent SET seq = seq - 99 WHERE seq >= 103")
    forged = {name: getattr(events[1], name) for name in chain.HASHED_FIELDS}
    forged.update(seq=3, prev_hash=events[1].hash, reason="forged")
    forged_hash = chain.compute_hash(forged)
    _raw(
        "INSERT INTO audit_auditevent (seq, occurred_at, actor_email, actor_role, data_category,"
        " action, resource_type, resource_id, purpose, outcome, reason, request_id, user_agent,"
        " detail, prev_hash, hash) VALUES (%s, %s, %s, '', %s, %s, '', '', '', %s, %s, %s, '',"
        " %s, %s, %s)",
        [
            3,
            events[1].occurred_at,
            events[1].actor_email,
            events[1].data_category,
            events[1].action,
            events[1].outcome,
            "forged",
            events[1].request_id,
            '{"i": 1, "nested": {"a": [1, "x"], "b": 2}}',
            "f" * 64,
            forged_hash,
        ],
    )
    result = chain.verify()
    assert result.ok is False
    assert result.bad_seq == 3  # the forged row: its prev_hash field was not a real link


@pytest.mark.django_db
def test_reordered_events_are_named() -> None:
    _write(5)
    _raw("UPDATE audit_auditevent SET seq = -1 WHERE seq = 2")
    _raw("UPDATE audit_auditevent SET seq = 2 WHERE seq = 4")
    _raw("UPDATE audit_auditevent SET seq = 4 WHERE seq = -1")
    result = chain.verify()
    assert (result.ok, result.bad_seq) == (False, 2)


@pytest.mark.django_db
def test_trigger_refuses_update_through_the_orm() -> None:
    (event,) = _write(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="changed")
    event.reason = "changed"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).reason == "test 0"


@pytest.mark.django_db
def test_trigger_refuses_delete() -> None:
    (event,) = _write(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_trigger_refuses_truncate_on_postgresql() -> None:
    _write(1)
    if connection.vendor != "postgresql":
        # SQLite has no TRUNCATE statement; DELETE is covered above.
        assert connection.vendor == "sqlite"
        return
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == 1


@contextmanager
def holding_an_append(results: dict[str, Any]) -> Iterator[AuditEvent]:
    """Another thread appends one event in a transaction it keeps open — holding its chain's
    lock — until the block ends; yields that event. Its error, if any, is
    ``results["holder_error"]``."""
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                (results["held"],) = _write(1, "holder")
                holding.set()
                assert release.wait(30)
        except BaseException as exc:  # pragma: no cover - reported by the caller
            results["holder_error"] = exc
        finally:
            holding.set()
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(30) and "holder_error" not in results, results
        yield results["held"]
    finally:
        release.set()
        thread.join(30)


def _advisory_waiters() -> int:
    with connection.cursor() as cursor:
        # pg_locks covers the whole server: count only this database's (a parallel test
        # worker's writers queue on the same key in theirs).
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_writer_that_waited_for_the_lock_chains_onto_what_the_holder_committed() -> None:
    """The head is read after the lock is granted, never from a snapshot taken while waiting
    (PostgreSQL: the lock is its own statement, the head read a later one, ADR 0015)."""
    (first,) = _write(1, "before")
    waiter_done = threading.Event()
    results: dict[str, Any] = {}

    def waiter() -> None:
        try:
            (results["waited"],) = _write(1, "waiter")
        except BaseException as exc:  # pragma: no cover - reported below
            results["waiter_error"] = exc
        finally:
            waiter_done.set()
            connections.close_all()

    with holding_an_append(results) as held:
        second = threading.Thread(target=waiter)
        second.start()
        if connection.vendor == "postgresql":
            for _ in range(3000):  # until the waiter is queued on the chain's advisory lock
                if _advisory_waiters():
                    break
                waiter_done.wait(0.01)
            assert _advisory_waiters() == 1
        assert not waiter_done.is_set()  # it cannot append while the holder's transaction is open
    second.join(30)
    assert "holder_error" not in results and "waiter_error" not in results, results
    waited = results["waited"]
    assert (held.seq, held.prev_hash) == (first.seq + 1, first.hash)
    assert (waited.seq, waited.prev_hash) == (held.seq + 1, held.hash)
    assert chain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_triggers_are_back_after_a_transactional_flush() -> None:
    # The previous transactional test's flush lifted and restored the triggers.
    (event,) = _write(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_gap() -> None:
    _write(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        _write(1)
        raise RuntimeError("the caller's work failed")
    _write(1)
    assert chain.verify().ok
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]


# --- what the chain hashes -----------------------------------------------------------------------

_TEXT = st.text(max_size=40)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.django_db
@given(
    actor_email=_TEXT.map(lambda t: t.replace("\x00", "")),
    reason=_TEXT.map(lambda t: t.replace("\x00", "")),
    detail=st.dictionaries(
        _TEXT.map(lambda t: t.replace("\x00", "")),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**53), 2**53)
            | _TEXT.map(lambda t: t.replace("\x00", "")),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(_TEXT.map(lambda t: t.replace("\x00", "")), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=4,
    ),
    microsecond=st.integers(min_value=0, max_value=999_999),
)
def test_an_event_as_stored_hashes_as_it_did_when_appended(
    actor_email: str, reason: str, detail: dict[str, Any], microsecond: int
) -> None:
    """``verify`` recomputes every hash from the row as the database gives it back: text that
    JSON escapes or that is more than one byte in UTF-8, nested detail (PostgreSQL's jsonb
    reorders keys) and a time in another zone must hash as they did when appended."""
    occurred = datetime(2026, 3, 4, 5, 6, 7, microsecond, tzinfo=ZoneInfo("America/Chicago"))
    with transaction.atomic():
        (appended,) = chain.append(
            [
                {
                    "occurred_at": occurred,
                    "actor_id": uuid.uuid4(),
                    "actor_email": actor_email[:254],
                    "actor_role": "therapist",
                    "organisation_id": uuid.uuid4(),
                    "client_id": None,
                    "data_category": "clinical_record",
                    "action": Action.VIEW,
                    "resource_type": "client",
                    "resource_id": "x",
                    "purpose": Purpose.TREATMENT,
                    "outcome": Outcome.SUCCESS,
                    "reason": reason[:500],
                    "request_id": "r",
                    "ip": None,
                    "user_agent": "",
                    "detail": detail,
                }
            ]
        )
        stored = AuditEvent.objects.get(pk=appended.pk)
        assert stored.hash == appended.hash
        assert chain.compute_hash({n: getattr(stored, n) for n in chain.HASHED_FIELDS}) == (
            stored.hash
        )
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_awkward_text_appends_and_verifies() -> None:
    awkward = [
        'quote " backslash \\ slash / tab \t newline \n',
        "accents àéîõü, ß, Ł; CJK 漢字; emoji 🦉🏳️‍🌈; RTL עברית",
        "controls \x01\x1f\x7f and separators \u2028\u2029",
    ]
    for n, text in enumerate(awkward):
        record(
            actor=None,
            actor_email=f"odd{n}@example.org",
            action=Action.VIEW,
            data_category=DataCategory.DEMOGRAPHICS,
            outcome=Outcome.SUCCESS,
            reason=text,
            detail={text: [text, n, None, True, 1.5]},
        )
    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.reason for e in stored] == awkward
    assert [e.seq for e in stored] == [1, 2, 3]
    assert chain.verify().ok


@pytest.mark.django_db
def test_with_the_audit_trail_off_nothing_is_recorded(settings: Any) -> None:
    settings.IPTCARE_AUDIT_ENABLED = False
    assert (
        record(
            actor=None,
            action=Action.VIEW,
            data_category=DataCategory.DEMOGRAPHICS,
            outcome=Outcome.SUCCESS,
        )
        is None
    )
    assert not AuditEvent.objects.exists()
