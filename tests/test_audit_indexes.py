"""Migration audit 0005: three B-trees fewer per audit event, nothing of the trail lost, the
append-only triggers still in place, and the chain still unable to fork (ADR 0002).

At 0004 and 0005 the events are written by the chain's SQLite way (head read, hashes in Python,
plain INSERT), which needs nothing a later migration adds; PostgreSQL's one-statement append
needs ``iptcare_audit_next`` (0006)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from iptcare.access.vocabulary import Action, DataCategory
from iptcare.audit import chain
from iptcare.audit.models import GENESIS_HASH, AuditEvent, Outcome
from tests.test_audit_chain import _write

BEFORE = [("audit", "0004_chain_head_function")]
AFTER = [("audit", "0005_fewer_indexes")]


def _fields(reason: str) -> dict[str, Any]:
    """One event's own fields, as ``record`` hands them to the chain."""
    return {
        "occurred_at": timezone.now(),
        "actor_id": None,
        "actor_email": "chains@example.org",
        "actor_role": "",
        "organisation_id": None,
        "client_id": None,
        "data_category": str(DataCategory.DEMOGRAPHICS),
        "action": str(Action.VIEW),
        "resource_type": "",
        "resource_id": "",
        "purpose": "treatment",
        "outcome": str(Outcome.SUCCESS),
        "reason": reason,
        "request_id": "",
        "ip": None,
        "user_agent": "",
        "detail": {},
    }


def _write_plain(n: int) -> None:
    """``n`` events appended as the chain's SQLite way did at 0004 and 0005 (head read, hashes in
    Python, plain INSERT): written out here, since today's code writes columns those schemas
    lack (``chain``, 0007)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE audit_auditevent IN EXCLUSIVE MODE")
        cursor.execute("SELECT seq, hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1")
        seq, prev_hash = cursor.fetchone() or (0, GENESIS_HASH)
        for i in range(n):
            fields = _fields(f"plain {i}") | {"seq": seq + 1, "prev_hash": prev_hash}
            digest = chain.compute_hash(fields)
            cursor.execute(
                "INSERT INTO audit_auditevent (seq, occurred_at, actor_email, actor_role,"
                " data_category, action, resource_type, resource_id, purpose, outcome, reason,"
                " request_id, user_agent, detail, prev_hash, hash) VALUES (%s, %s, %s, %s, %s,"
                " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    *(fields[name] or "" for name in _PLAIN_COLUMNS),
                    json.dumps(fields["detail"]),
                    prev_hash,
                    digest,
                ],
            )
            seq, prev_hash = seq + 1, digest


# The columns _write_plain writes from the event's fields, before detail, prev_hash and hash.
_PLAIN_COLUMNS = (
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


def _verify_before_0007() -> chain.VerifyResult:
    """``chain.verify`` of a trail whose table has no ``chain`` column yet (before 0007): one
    chain, chain 0."""
    columns = ("id", "hash", *chain.HASHED_FIELDS)
    rows = AuditEvent.objects.order_by("seq").values(*columns)
    return chain.verify(AuditEvent(chain=0, **row) for row in rows)


def _latest() -> list[tuple[str, str]]:
    """Every app's newest migration: the schema the rest of the suite runs on."""
    executor = MigrationExecutor(connection)
    return list(executor.loader.graph.leaf_nodes())


def _migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


@pytest.fixture
def at_0004() -> Iterator[None]:
    _migrate(BEFORE)
    try:
        yield
    finally:
        _migrate(_latest())


def _indexed_columns() -> dict[tuple[str, ...], bool]:
    """The audit table's indexed column lists -> whether any index on them is unique
    (PostgreSQL adds a second, pattern-ops index to an indexed text column)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AuditEvent._meta.db_table)
    indexed: dict[tuple[str, ...], bool] = {}
    for c in constraints.values():
        if (c["index"] or c["unique"]) and not c["primary_key"]:
            columns = tuple(c["columns"])
            indexed[columns] = indexed.get(columns, False) or bool(c["unique"])
    return indexed


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_event_and_drops_three_indexes(at_0004: None) -> None:
    before = _indexed_columns()
    assert before[("hash",)] is True
    assert ("actor_id",) in before and ("client_id",) in before
    _write_plain(5)
    rows = list(AuditEvent.objects.order_by("seq").values_list("seq", "hash", "reason"))

    _migrate(AFTER)

    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "hash", "reason")) == rows
    assert _verify_before_0007().ok
    after = _indexed_columns()
    assert set(before) - set(after) == {("hash",), ("actor_id",), ("client_id",)}
    assert set(after) <= set(before)
    assert after[("seq",)] is True and after[("prev_hash",)] is True
    assert ("actor_id", "occurred_at") in after and ("client_id", "occurred_at") in after
    # The append-only triggers survived the table's rebuild.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(reason="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=5).delete()
    _write_plain(1)
    assert _verify_before_0007().ok and AuditEvent.objects.count() == 6


@pytest.mark.django_db
def test_a_second_writer_at_the_same_place_still_fails_rather_than_fork() -> None:
    """What UNIQUE on ``hash`` used to add is covered: an event that claims a taken ``seq`` or
    a taken predecessor is refused."""
    _write(2)
    head = AuditEvent.objects.get(seq=2)
    fields = {name: getattr(head, name) for name in chain.HASHED_FIELDS} | {"reason": "a fork"}
    for seq, prev_hash in ((2, AuditEvent.objects.get(seq=1).hash), (3, head.prev_hash)):
        fork = fields | {"seq": seq, "prev_hash": prev_hash}
        with pytest.raises(IntegrityError), transaction.atomic():
            AuditEvent.objects.create(chain=0, hash=chain.compute_hash(fork), **fork)
    assert AuditEvent.objects.count() == 2 and chain.verify().ok
