"""The SHA-256 hash chain: canonical serialisation, append under a lock, verification."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from iptcare.audit.models import GENESIS_HASH, AuditEvent

# The fields covered by the hash, in a fixed order. Changing this list breaks every old chain.
HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_email",
    "actor_role",
    "organisation_id",
    "client_id",
    "data_category",
    "action",
    "resource_type",
    "resource_id",
    "purpose",
    "outcome",
    "reason",
    "request_id",
    "ip",
    "user_agent",
    "detail",
    "prev_hash",
)

# Any 64-bit key works; this one is "iptcaud" in ASCII. PostgreSQL advisory locks are per database.
_PG_LOCK_KEY = 0x69707463617564


def _canonical_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "occurred_at":
        assert isinstance(value, datetime)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if name in {"actor_id", "organisation_id", "client_id"}:
        return str(value)
    if name == "seq":
        return int(value)
    return value


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys and no whitespace (RFC 8785-style for our value types)."""
    payload = {name: _canonical_value(name, fields.get(name)) for name in HASHED_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def _lock_and_read_head(cursor: CursorWrapper) -> tuple[int, str] | None:
    """Serialise appends and read the chain's head (its seq and hash) under the lock.

    PostgreSQL: one statement, ``iptcare_audit_head`` (migration 0004, ADR 0010), which takes a
    transaction-scoped advisory lock and then reads the head with a snapshot taken after the
    lock was granted. SQLite: BEGIN IMMEDIATE already holds the database's write lock."""
    if connection.vendor == "postgresql":
        cursor.execute("SELECT head_seq, head_hash FROM iptcare_audit_head(%s)", [_PG_LOCK_KEY])
    else:
        table = connection.ops.quote_name(AuditEvent._meta.db_table)
        cursor.execute(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1")  # noqa: S608
    head = cursor.fetchone()
    return (int(head[0]), str(head[1])) if head else None


# Well under SQLite's limit on parameters per statement (32,766) at about 20 columns a row.
_ROWS_PER_INSERT = 200


@functools.lru_cache(maxsize=16)
def _insert_sql(rows: int, vendor: str) -> str:
    """One INSERT of ``rows`` events, returning each new row's id with its seq (built once per
    size and database vendor: it is on the path of every audited request)."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    fields = _model_fields()
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join([f"({', '.join(['%s'] * len(fields))})"] * rows)
    # Identifiers come from the model's metadata, never from input; values are parameters.
    return f"INSERT INTO {table} ({columns}) VALUES {placeholders} RETURNING id, seq"  # noqa: S608


# The chain's own fields: known only under the lock, at the head.
_CHAIN_FIELDS = ("seq", "prev_hash", "hash")
# The canonical JSON's members in their (sorted) order; ``seq`` and ``prev_hash`` are among them.
_CANONICAL_ORDER = tuple(sorted(HASHED_FIELDS))


def _member(name: str, value: Any) -> str:
    """One member of the canonical JSON, ``"name":value``, as ``canonical_bytes`` writes it.

    Names are plain ASCII; a string value is written by the function ``json.dumps`` itself
    uses with ``ensure_ascii=False`` (``encode_basestring``), an integer as ``json.dumps``
    writes it; anything else (``detail``) goes through ``json.dumps``. A member is written
    about twenty times per event, on every audited request."""
    canonical = _canonical_value(name, value)
    if canonical is None:
        return f'"{name}":null'
    if isinstance(canonical, str):  # also a StrEnum (an action, a purpose), as json.dumps does
        return f'"{name}":{encode_basestring(canonical)}'
    if type(canonical) is int:  # not a bool
        return f'"{name}":{int.__repr__(canonical)}'
    return json.dumps(
        {name: canonical},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )[1:-1]


class PreparedEvent:
    """An event made ready to append before the lock is taken (``prepare``): every canonical
    JSON member and database value that does not depend on its place in the chain. Under the
    lock only ``seq``, ``prev_hash`` and the hash remain to compute (``append_prepared``).

    The hash is the same as ``compute_hash`` of the finished fields: the canonical JSON of a
    flat object with sorted keys is its members, each written on its own, joined in key order
    (tests/test_audit_chain.py checks the two agree)."""

    __slots__ = ("_members", "_values", "fields")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        fields = dict(fields)
        # Microsecond precision survives both databases, so the hash recomputes exactly.
        fields["occurred_at"] = fields["occurred_at"].astimezone(UTC)
        self.fields = fields
        self._members = {
            name: _member(name, fields.get(name))
            for name in HASHED_FIELDS
            if name not in _CHAIN_FIELDS
        }
        self._values = {
            f.attname: f.get_db_prep_save(fields[f.attname], connection)
            for f in _model_fields()
            if f.attname not in _CHAIN_FIELDS
        }

    def at(self, seq: int, prev_hash: str) -> tuple[dict[str, Any], list[Any]]:
        """The finished fields and the database values of this event at ``seq`` after
        ``prev_hash``."""
        members = self._members | {
            "seq": _member("seq", seq),
            "prev_hash": _member("prev_hash", prev_hash),
        }
        canonical = "{" + ",".join(members[name] for name in _CANONICAL_ORDER) + "}"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        fields = {**self.fields, "seq": seq, "prev_hash": prev_hash, "hash": digest}
        values = self._values | {
            f.attname: f.get_db_prep_save(fields[f.attname], connection)
            for f in _chain_model_fields()
        }
        return fields, [values[f.attname] for f in _model_fields()]


@functools.cache
def _model_fields() -> tuple[Any, ...]:
    return tuple(f for f in AuditEvent._meta.concrete_fields if not f.primary_key)


@functools.cache
def _chain_model_fields() -> tuple[Any, ...]:
    return tuple(f for f in _model_fields() if f.attname in _CHAIN_FIELDS)


def prepare(fields: Mapping[str, Any]) -> PreparedEvent:
    """Make an event ready to append (outside the lock: see ``PreparedEvent``)."""
    return PreparedEvent(fields)


def append(fields: dict[str, Any] | PreparedEvent) -> AuditEvent:
    """Append one event at the head of the chain, in the caller's transaction if there is one."""
    return append_many([fields])[0]


def append_many(batch: Sequence[dict[str, Any] | PreparedEvent]) -> list[AuditEvent]:
    """Append events in order at the head of the chain: the lock and head read, one INSERT.

    The audit write is on the path of every clinical page, so it is plain statements (read the
    head, insert) under the lock rather than ORM saves; values are still prepared by the model's
    own fields, exactly as the ORM would — before the lock, except the chain's own (``prepare``).
    All events of a batch go in one multi-row INSERT: on SQLite the write lock is held from
    BEGIN to COMMIT, and every statement under it is another wait for the GIL
    (bench/README.md).
    """
    events: list[AuditEvent] = []
    if not batch:
        return events
    ready = [item if isinstance(item, PreparedEvent) else PreparedEvent(item) for item in batch]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        head = _lock_and_read_head(cursor)
        seq, prev_hash = head if head else (0, GENESIS_HASH)
        rows: list[tuple[dict[str, Any], list[Any]]] = []
        for event in ready:
            seq += 1
            fields, values = event.at(seq, prev_hash)
            prev_hash = fields["hash"]
            rows.append((fields, values))
        ids: dict[int, int] = {}
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            sql = _insert_sql(len(chunk), connection.vendor)
            cursor.execute(sql, [value for _, values in chunk for value in values])
            # RETURNING gives no order guarantee: match the ids back by seq.
            ids.update({row_seq: pk for pk, row_seq in cursor.fetchall()})
        events = [AuditEvent(id=ids[fields["seq"]], **fields) for fields, _ in rows]
    return events


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    bad_id: int | None = None
    problem: str = ""


def verify(events: Iterable[AuditEvent] | None = None) -> VerifyResult:
    """Walk the chain in seq order; report the first event that does not fit.

    Detects an edited event (its hash no longer matches its content), a deleted one (a gap in seq
    and a broken link), an inserted one (a broken link or a seq out of place) and a reordering
    (seq is inside the hash, and each event names its predecessor's hash).
    """
    if events is None:
        events = AuditEvent.objects.order_by("seq", "id").iterator(chunk_size=2000)
    expected_seq, expected_prev, checked = 1, GENESIS_HASH, 0
    for event in events:
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        problem = ""
        if event.seq != expected_seq:
            problem = f"sequence number {event.seq} where {expected_seq} was expected"
        elif event.prev_hash != expected_prev:
            problem = "does not link to the previous event's hash"
        elif compute_hash(fields) != event.hash:
            problem = "content does not match its hash (edited)"
        if problem:
            return VerifyResult(
                ok=False,
                checked=checked,
                head_seq=expected_seq - 1,
                head_hash=expected_prev,
                bad_seq=event.seq,
                bad_id=event.id,
                problem=problem,
            )
        checked += 1
        expected_seq, expected_prev = event.seq + 1, event.hash
    return VerifyResult(
        ok=True, checked=checked, head_seq=expected_seq - 1, head_hash=expected_prev
    )
