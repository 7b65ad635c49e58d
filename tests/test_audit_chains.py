"""The audit trail as several hash chains written side by side (ADR 0014).

On PostgreSQL a transaction appends to chain ``txid % IPTCARE_AUDIT_CHAINS`` under that chain's
lock, so audited transactions on different chains do not wait for each other's commit; SQLite
writes chain 0 only. Each chain is verified on its own, from its own genesis. (What happens inside
one chain — links, tampering, the lock's waiter — is tests/test_audit_chain.py.)"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from iptcare.audit import chain
from iptcare.audit.models import AuditEvent, genesis_hash
from tests.helpers import other_pg_session
from tests.test_audit_batch import _fields
from tests.test_audit_chain import _raw, _verify_cli, _write, holding_an_append
from tests.test_audit_indexes import _indexed_columns, _latest, _migrate, _write_plain

CHAINS = 8


@pytest.fixture
def eight_chains(settings: Any) -> None:
    settings.IPTCARE_AUDIT_CHAINS = CHAINS


def _by_chain() -> dict[int, list[AuditEvent]]:
    chains: dict[int, list[AuditEvent]] = defaultdict(list)
    for event in AuditEvent.objects.order_by("chain", "seq"):
        chains[event.chain].append(event)
    return dict(chains)


def _txid_chain(cursor: Any) -> int:
    cursor.execute("SELECT mod(txid_current(), %s)", [CHAINS])
    return int(cursor.fetchone()[0])


def test_each_chain_starts_from_its_own_number() -> None:
    assert genesis_hash(0) == "0" * 64  # the trail written before there were chains
    assert genesis_hash(1) == "0" * 63 + "1"
    assert genesis_hash(32767) == "0" * 60 + "7fff"
    assert len({genesis_hash(c) for c in range(100)}) == 100
    with pytest.raises(ValueError):
        genesis_hash(-1)
    with pytest.raises(ValueError):
        genesis_hash(32768)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("chains", [1, CHAINS])
def test_concurrent_writers_spread_over_the_chains_and_each_chain_verifies(
    settings: Any, chains: int
) -> None:
    settings.IPTCARE_AUDIT_CHAINS = chains
    writers, per_writer = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def work(n: int) -> None:
        try:
            start.wait()
            _write(per_writer, f"writer {n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = chain.verify()
    assert result.ok, result
    assert result.checked == AuditEvent.objects.count() == writers * per_writer
    by_chain = _by_chain()
    for number, events in by_chain.items():
        # Each chain: seq 1, 2, … with no gap, from its own genesis, linked event to event.
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].prev_hash == genesis_hash(number)
        assert all(b.prev_hash == a.hash for a, b in pairwise(events))
    assert [(h.chain, h.events, h.seq, h.hash) for h in result.heads] == [
        (n, len(e), e[-1].seq, e[-1].hash) for n, e in sorted(by_chain.items())
    ]
    if connection.vendor == "postgresql":
        # 90 transactions in a row of transaction ids: every chain is used.
        assert set(by_chain) == set(range(chains))
    else:
        assert set(by_chain) == {0}  # one writer at a time: one chain


@pytest.mark.django_db
def test_one_transaction_appends_to_one_chain_the_one_its_id_names(eight_chains: None) -> None:
    _write(3, "before")
    with transaction.atomic(), connection.cursor() as cursor:
        events = [
            *_write(2, "one by one"),
            *chain.append_many([_fields(f"batch {n}") for n in range(3)]),
        ]
        expected = _txid_chain(cursor) if connection.vendor == "postgresql" else 0
    assert {e.chain for e in events} == {expected}
    first = events[0].seq
    assert [e.seq for e in events] == list(range(first, first + 5))
    stored = AuditEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("seq")
    assert [(e.chain, e.seq, e.hash) for e in stored] == [(e.chain, e.seq, e.hash) for e in events]
    assert chain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_writer_on_another_chain_does_not_wait_for_an_open_transaction(
    eight_chains: None,
) -> None:
    """The point of several chains: a transaction holds its chain's lock until its commit is
    on disk, and a writer on another chain appends meanwhile. (SQLite has one writer at a
    time whatever the chains: there every event is chain 0.)"""
    if connection.vendor != "postgresql":
        _write(2)
        assert set(AuditEvent.objects.values_list("chain", flat=True)) == {0}
        return
    results: dict[str, Any] = {}

    def other() -> None:
        try:
            for _ in range(50):  # until this transaction's id names another chain
                with transaction.atomic(), connection.cursor() as cursor:
                    if _txid_chain(cursor) == results["held"].chain:
                        transaction.set_rollback(True)
                        continue
                    (results["other"],) = _write(1, "other")
                    break
        except BaseException as exc:  # pragma: no cover - reported below
            results["other_error"] = exc
        finally:
            connections.close_all()

    with holding_an_append(results):
        second = threading.Thread(target=other)
        second.start()
        second.join(20)
        appended_while_held = not second.is_alive()
    second.join(30)
    assert appended_while_held, "a writer on another chain waited for the open transaction"
    assert "holder_error" not in results and "other_error" not in results, results
    assert results["other"].chain != results["held"].chain
    assert chain.verify().ok


@pytest.mark.django_db
def test_changing_the_number_of_chains_keeps_the_trail_verifiable(settings: Any) -> None:
    for chains, events in ((1, 3), (CHAINS, 10), (3, 5), (1, 2)):
        settings.IPTCARE_AUDIT_CHAINS = chains
        for n in range(events):
            with transaction.atomic():
                _write(1, f"{chains} chains, event {n}")
    result = chain.verify()
    assert result.ok and result.checked == 20
    assert sum(h.events for h in result.heads) == 20


def _second_chain(events: int) -> list[AuditEvent]:
    """``events`` events of chain 1, written as a PostgreSQL transaction on chain 1 would (on
    SQLite no writer does: this is the shape verify must accept on both databases)."""
    prev_hash = genesis_hash(1)
    rows = []
    for seq in range(1, events + 1):
        fields, values = chain.prepare(_fields(f"chain 1, {seq}")).at(1, seq, prev_hash)
        prev_hash = fields["hash"]
        rows.append(values)
    with transaction.atomic(), connection.cursor() as cursor:
        for values in rows:
            cursor.execute(chain._insert_sql(1), values)
    return list(AuditEvent.objects.filter(chain=1).order_by("seq"))


@pytest.mark.django_db
def test_verify_names_every_chains_head(one_chain: None) -> None:
    zero = _write(3)
    one = _second_chain(2)
    result = chain.verify()
    assert result.ok and result.checked == 5
    assert [(h.chain, h.events, h.seq, h.hash) for h in result.heads] == [
        (0, 3, 3, zero[-1].hash),
        (1, 2, 2, one[-1].hash),
    ]
    code, out = _verify_cli()
    assert code == 0 and "intact: 5 events in 2 chains" in out
    assert f"chain 0: 3 events, head seq=3 hash={zero[-1].hash}" in out
    assert f"chain 1: 2 events, head seq=2 hash={one[-1].hash}" in out


@pytest.mark.django_db
def test_verify_as_json_lists_every_chains_head(one_chain: None) -> None:
    zero = _write(2)
    one = _second_chain(1)
    out = StringIO()
    call_command("audit", "verify", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["ok"] is True and result["checked"] == 3
    assert result["heads"] == [
        {"chain": 0, "events": 2, "seq": 2, "hash": zero[-1].hash},
        {"chain": 1, "events": 1, "seq": 1, "hash": one[-1].hash},
    ]


@pytest.mark.django_db
def test_an_event_moved_to_another_chain_is_named(one_chain: None) -> None:
    """Each chain starts from its own genesis: an event moved to another chain's first place
    does not link there, and the chain it left has a gap."""
    _write(3)
    _second_chain(1)
    _raw("UPDATE audit_auditevent SET chain = 2, seq = 1 WHERE chain = 0 AND seq = 3")
    result = chain.verify()
    assert (result.ok, result.bad_chain, result.bad_seq) == (False, 2, 1)
    assert "does not link" in result.problem
    assert [h.chain for h in result.heads] == [0, 1]  # the chains before it are intact
    code, message = _verify_cli()
    assert code == 1 and "event 2:1 (chain 2, seq 1," in message

    _raw("UPDATE audit_auditevent SET chain = 1, seq = 2 WHERE chain = 2")
    result = chain.verify()  # now at chain 1's second place: chain 1's head is not its prev_hash
    assert (result.ok, result.bad_chain, result.bad_seq) == (False, 1, 2)


@pytest.mark.django_db
def test_a_gap_in_one_chain_is_named_with_its_chain(one_chain: None) -> None:
    _write(2)
    _second_chain(3)
    _raw("DELETE FROM audit_auditevent WHERE chain = 1 AND seq = 2")
    result = chain.verify()
    assert (result.ok, result.bad_chain, result.bad_seq) == (False, 1, 3)
    assert "2 was expected" in result.problem


@pytest.mark.django_db
def test_two_events_may_share_a_seq_only_in_different_chains(one_chain: None) -> None:
    from django.db import IntegrityError

    _write(1)
    (first,) = _second_chain(1)  # chain 1, seq 1, beside chain 0's seq 1
    clash = chain.prepare(_fields("clash"))
    _, values = clash.at(1, 1, first.hash)  # a second seq 1 in chain 1
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(chain._insert_sql(1), values)
    assert chain.verify().ok and AuditEvent.objects.count() == 2


# --- migration 0007 --------------------------------------------------------------------------


@pytest.fixture
def at_0006() -> Iterator[None]:
    _migrate([("audit", "0006_chain_append_function")])
    try:
        yield
    finally:
        _migrate(_latest())


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_trail_as_chain_0(at_0006: None, eight_chains: None) -> None:
    before = _indexed_columns()
    assert before[("seq",)] is True
    _write_plain(4)
    rows = list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))

    _migrate([("audit", "0007_several_chains")])

    assert list(
        AuditEvent.objects.order_by("seq").values_list("chain", "seq", "prev_hash", "hash")
    ) == [(0, *row) for row in rows]
    result = chain.verify()
    assert result.ok and [(h.chain, h.events) for h in result.heads] == [(0, 4)]
    after = _indexed_columns()
    assert after[("chain", "seq")] is True and ("seq",) not in after
    assert after[("prev_hash",)] is True
    # The report's index replaces three (ADR 0002, amended 2026-12-05).
    assert set(before) - set(after) == {
        ("seq",),
        ("occurred_at",),
        ("organisation_id",),
        ("action",),
    }
    assert set(after) - set(before) == {("chain", "seq"), ("organisation_id", "occurred_at")}
    # The append-only triggers survived the table's rebuild (SQLite).
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(reason="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=4).delete()
    # Appends go on, across the chains on PostgreSQL, after chain 0's head on SQLite.
    for n in range(CHAINS):
        with transaction.atomic():
            _write(1, f"after {n}")
    result = chain.verify()
    assert result.ok and result.checked == 4 + CHAINS
    chains_used = {h.chain for h in result.heads}
    if connection.vendor == "postgresql":
        # Eight transactions in a row take several chains (not always all eight: a parallel
        # test worker's transactions take transaction ids in between).
        assert len(chains_used) > 1
    else:
        assert chains_used == {0}


# --- outside a transaction ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_a_transaction_is_one_statement_of_its_own_on_postgresql(
    eight_chains: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audited page that writes nothing else: on PostgreSQL its event is one statement in
    autocommit — no transaction opened around it (no BEGIN, no COMMIT round trip) — and is
    committed when it returns. SQLite opens its ``BEGIN IMMEDIATE`` transaction as before; so
    does PostgreSQL for a batch of more than one statement, which must commit together."""
    opened: list[bool] = []
    original = connection.set_autocommit

    def spy(autocommit: bool, *args: Any, **kwargs: Any) -> None:
        opened.append(not autocommit)
        original(autocommit, *args, **kwargs)

    monkeypatch.setattr(connection, "set_autocommit", spy)
    (event,) = _write(1, "alone")
    postgresql = connection.vendor == "postgresql"
    assert any(opened) is not postgresql
    if postgresql:
        with other_pg_session() as other:  # committed: another session sees it at once
            seen = other.execute("SELECT hash FROM audit_auditevent WHERE id = %s", [event.pk])
            assert seen.fetchone() == (event.hash,)

    opened.clear()
    monkeypatch.setattr(chain, "_ROWS_PER_INSERT", 3)
    events = chain.append_many([_fields(f"batch {n}") for n in range(7)])
    assert any(opened)  # three statements: one transaction
    assert len({e.chain for e in events}) == 1
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 7))
    assert chain.verify().ok
