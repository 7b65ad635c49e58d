"""One chain again (ADR 0015): concurrent appends leave one gap-free chain; migration audit 0008
seals a trail that PostgreSQL wrote as several chains side by side (ADR 0014, superseded), and
``verify`` checks every closed chain against the seal. (What happens inside one chain — links,
tampering, the lock's waiter — is tests/test_audit_chain.py.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
from django.db import DatabaseError, connection, connections, transaction

from iptcare.audit import chain
from iptcare.audit.models import AuditEvent, Outcome, genesis_hash
from tests.test_audit_chain import _raw, _verify_cli, _write
from tests.test_audit_indexes import _fields, _latest, _migrate

# The PostgreSQL functions of the removed one-statement writes (ADR 0012, 0013, 0014).
DROPPED_FUNCTIONS = ("iptcare_audit_next", "iptcare_audit_head", "iptcare_require")


def _write_to_chain(number: int, n: int) -> None:
    """``n`` events appended to chain ``number`` as the release before ADR 0015 did (each chain
    from its own genesis), written out here with the table's columns at migration 0007."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, hash FROM audit_auditevent WHERE chain = %s ORDER BY seq DESC LIMIT 1",
            [number],
        )
        seq, prev_hash = cursor.fetchone() or (0, genesis_hash(number))
        for i in range(n):
            fields = _fields(f"chain {number} event {i}") | {"seq": seq + 1, "prev_hash": prev_hash}
            digest = chain.compute_hash(fields)
            cursor.execute(
                "INSERT INTO audit_auditevent (chain, seq, occurred_at, actor_email, actor_role,"
                " data_category, action, resource_type, resource_id, purpose, outcome, reason,"
                " request_id, user_agent, detail, prev_hash, hash) VALUES (%s, %s, %s, %s, %s,"
                " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    number,
                    *(fields[name] or "" for name in _COLUMNS),
                    json.dumps(fields["detail"]),
                    prev_hash,
                    digest,
                ],
            )
            seq, prev_hash = seq + 1, digest


_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_email",
    "actor_role",
    "data_category",
    "action",
    "resource_type",
    "resource_id",
    "purpose",
    "outcome",
    "reason",
    "request_id",
    "user_agent",
)


def _functions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT proname FROM pg_proc WHERE proname LIKE 'iptcare_%%'")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_leave_one_gap_free_chain() -> None:
    writers, per_writer = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    _write(1, f"writer {n} event {i}")
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
    events = list(AuditEvent.objects.order_by("seq"))
    assert {e.chain for e in events} == {chain.LIVE_CHAIN}
    assert [e.seq for e in events] == list(range(1, writers * per_writer + 1))
    assert events[0].prev_hash == genesis_hash(chain.LIVE_CHAIN)
    assert all(b.prev_hash == a.hash for a, b in pairwise(events))
    result = chain.verify()
    assert result.ok and result.checked == writers * per_writer
    assert [(h.chain, h.events, h.seq) for h in result.heads] == [
        (0, writers * per_writer, writers * per_writer)
    ]


# --- migration 0008: the seal ---------------------------------------------------------------


@pytest.fixture
def at_0007() -> Iterator[None]:
    _migrate([("audit", "0007_several_chains")])
    try:
        yield
    finally:
        _migrate(_latest())


@pytest.mark.django_db(transaction=True)
def test_the_seal_closes_every_chain_where_it_ended_and_the_trail_goes_on_as_one(
    at_0007: None,
) -> None:
    """A trail written as several chains (as PostgreSQL did between 0007 and 0008; written
    the same way here on SQLite, whose schema is the same) is kept as it is, each chain
    closed by the seal; new events go to chain 0 after the seal."""
    for number, n in ((0, 5), (1, 3), (2, 4), (5, 1)):
        _write_to_chain(number, n)
    before = list(AuditEvent.objects.order_by("chain", "seq").values_list("pk", "hash"))
    heads = {
        str(c): {"seq": s, "hash": h}
        for c, s, h in (
            (c, *AuditEvent.objects.filter(chain=c).order_by("-seq").values_list("seq", "hash")[0])
            for c in (0, 1, 2, 5)
        )
    }

    _migrate([("audit", "0008_one_chain")])

    # Nothing of the old trail changed; one event was added: the seal, next in chain 0.
    after = AuditEvent.objects.order_by("chain", "seq")
    assert [(e.pk, e.hash) for e in after if e.pk in dict(before)] == before
    seal = AuditEvent.objects.exclude(pk__in=[pk for pk, _ in before]).get()
    assert (seal.chain, seal.seq, seal.prev_hash) == (0, 6, heads["0"]["hash"])
    assert seal.action == "seal" and seal.resource_type == chain.SEAL_RESOURCE
    assert seal.outcome == Outcome.SUCCESS
    assert seal.detail == {"chains": heads}
    result = chain.verify()
    assert result.ok, result
    assert [(h.chain, h.events) for h in result.heads] == [(0, 6), (1, 3), (2, 4), (5, 1)]

    _migrate(_latest())
    for n in range(3):
        _write(1, f"after the seal {n}")
    assert list(
        AuditEvent.objects.filter(pk__gt=seal.pk).values_list("chain", "seq").order_by("seq")
    ) == [(0, 7), (0, 8), (0, 9)]
    assert chain.verify().ok
    code, out = _verify_cli()
    assert code == 0 and "chain 0: 9 events" in out and "chain 2: 4 events" in out

    # The protective triggers are still there; PostgreSQL's append functions are gone.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=seal.pk).update(reason="edited")
    if connection.vendor == "postgresql":
        assert not _functions() & set(DROPPED_FUNCTIONS)


@pytest.mark.django_db(transaction=True)
def test_an_event_added_to_a_closed_chain_after_the_seal_is_named(at_0007: None) -> None:
    _write_to_chain(0, 2)
    _write_to_chain(3, 2)
    _migrate([("audit", "0008_one_chain")])
    _write_to_chain(3, 1)  # linked and hashed correctly: only the seal can tell
    result = chain.verify()
    assert not result.ok and (result.bad_chain, result.bad_seq) == (3, 3)
    assert result.problem == "a closed chain's event written after the seal at 0:3"
    code, out = _verify_cli()
    assert code != 0 and "3:3" in out


@pytest.mark.django_db(transaction=True)
def test_a_closed_chain_that_no_longer_ends_at_the_seal_is_named_even_if_backdated(
    at_0007: None,
) -> None:
    """Written with an id and a time from before the seal (an attacker who can INSERT):
    the seal's record of where the chain ended still tells."""
    _write_to_chain(0, 2)
    _write_to_chain(3, 2)
    _migrate([("audit", "0008_one_chain")])
    seal = AuditEvent.objects.get(action="seal")
    head = AuditEvent.objects.filter(chain=3).order_by("-seq").first()
    assert head is not None
    fields = _fields("forged") | {
        "occurred_at": seal.occurred_at - timedelta(seconds=1),
        "seq": 3,
        "prev_hash": head.hash,
    }
    AuditEvent.objects.create(id=-1, chain=3, hash=chain.compute_hash(fields), **fields)
    result = chain.verify()
    assert not result.ok and (result.bad_chain, result.bad_seq) == (3, 3)
    assert "does not end where seal event 0:3 recorded it" in result.problem


@pytest.mark.django_db(transaction=True)
def test_a_second_seal_is_named(at_0007: None) -> None:
    """The trail is sealed once, by migration 0008: a seal appended later (to close a chain
    forged beside the live one) is named."""
    _write_to_chain(0, 1)
    _write_to_chain(2, 1)
    _migrate([("audit", "0008_one_chain")])
    _migrate(_latest())
    (first,) = AuditEvent.objects.filter(action="seal")
    _write(1, "after")
    head = AuditEvent.objects.filter(chain=0).order_by("-seq").first()
    assert head is not None
    again = {n: getattr(first, n) for n in chain.HASHED_FIELDS} | {
        "seq": head.seq + 1,
        "prev_hash": head.hash,
    }
    AuditEvent.objects.create(chain=0, hash=chain.compute_hash(again), **again)
    result = chain.verify()
    assert not result.ok and (result.bad_chain, result.bad_seq) == (0, head.seq + 1)
    assert result.problem == f"a second seal (the trail was sealed at {first.position})"


@pytest.mark.django_db(transaction=True)
def test_an_event_cut_off_the_end_of_a_closed_chain_is_named(at_0007: None) -> None:
    _write_to_chain(0, 1)
    _write_to_chain(4, 3)
    _migrate([("audit", "0008_one_chain")])
    _raw("DELETE FROM audit_auditevent WHERE chain = 4 AND seq = 3")
    result = chain.verify()
    assert not result.ok and (result.bad_chain, result.bad_seq) == (4, 2)
    assert "recorded it (seq 3)" in result.problem


@pytest.mark.django_db(transaction=True)
def test_a_chain_beside_the_live_one_that_no_seal_closed_is_named() -> None:
    _write(2)
    _write_to_chain(7, 1)  # written after the change, beside chain 0: never legitimate
    result = chain.verify()
    assert not result.ok and result.bad_chain == 7
    assert "no seal event closed" in result.problem


@pytest.mark.django_db(transaction=True)
def test_an_empty_trail_needs_no_seal(at_0007: None) -> None:
    _migrate([("audit", "0008_one_chain")])
    assert not AuditEvent.objects.exists()
    _write(1)
    assert AuditEvent.objects.get().seq == 1 and chain.verify().ok
