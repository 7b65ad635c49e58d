"""The SHA-256 hash chain: canonical serialisation, append under a lock, verification."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from iptcare.audit.models import AuditEvent, genesis_hash

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
# Chain c's lock is _PG_LOCK_KEY + c (ADR 0014).
_PG_LOCK_KEY = 0x69707463617564


def chains() -> int:
    """How many chains PostgreSQL writes side by side (``IPTCARE_AUDIT_CHAINS``, ADR 0014).

    Read at every append: a process may change it (a restart with another value, a test), and
    the events already written stay where they are — each append reads its own chain's head
    under that chain's lock, whatever the others were told."""
    return int(settings.IPTCARE_AUDIT_CHAINS)


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


# SQLite has one writer at a time: its events all go to chain 0.
_SQLITE_CHAIN = 0


def _read_head_under_lock(cursor: CursorWrapper) -> tuple[int, str] | None:
    """SQLite: chain 0's head (its seq and hash), read under the write lock that
    ``BEGIN IMMEDIATE`` already holds. (PostgreSQL reads it inside the INSERT:
    ``_pg_insert_sql``.)"""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    cursor.execute(
        f"SELECT seq, hash FROM {table} WHERE chain = %s ORDER BY seq DESC LIMIT 1",  # noqa: S608
        [_SQLITE_CHAIN],
    )
    head = cursor.fetchone()
    return (int(head[0]), str(head[1])) if head else None


# Well under SQLite's limit on parameters per statement (32,766) at about 20 columns a row.
_ROWS_PER_INSERT = 200


@functools.lru_cache(maxsize=16)
def _insert_sql(rows: int) -> str:
    """SQLite: one INSERT of ``rows`` events whose chain fields Python computed under the lock,
    returning each new row's id with its seq (built once per size: it is on the path of every
    audited request)."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    fields = _model_fields()
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join([f"({', '.join(['%s'] * len(fields))})"] * rows)
    # Identifiers come from the model's metadata, never from input; values are parameters.
    return f"INSERT INTO {table} ({columns}) VALUES {placeholders} RETURNING id, seq"  # noqa: S608


@functools.lru_cache(maxsize=16)
def _pg_parts(rows: int, after: str | None = None) -> tuple[str, str]:
    """PostgreSQL: the CTE and the INSERT of one statement that appends ``rows`` events — lock,
    head, hashes and insert (ADR 0012). The CTE calls ``iptcare_audit_next`` (migration
    audit/0007) once: it picks the transaction's chain (ADR 0014), takes that chain's advisory
    lock, reads its head with a snapshot taken after the lock, and returns each event's chain,
    seq, prev_hash and hash in order; each row of the INSERT reads its own from the CTE.

    Parameters: the lock key, the number of chains, the events' canonical JSON heads, middles
    and tails (three arrays of ``rows`` texts, ``PreparedEvent.parts``), then every row's other
    column values.

    ``after``: a CTE of the same statement (one row) that must run before the chain's lock is
    taken: the lock key is read through it, so the function cannot be called before it."""
    quote = connection.ops.quote_name
    table = quote(AuditEvent._meta.db_table)
    own, chained = _unchained_model_fields(), _chain_model_fields()
    columns = ", ".join(quote(f.column) for f in (*own, *chained))
    chain_columns = {
        "chain": "new_chain",
        "seq": "new_seq",
        "prev_hash": "new_prev_hash",
        "hash": "new_hash",
    }
    # Identifiers come from the model's metadata, never from input; values are parameters.
    rows_sql = []
    for n in range(1, rows + 1):
        from_chain = [
            f"(SELECT {chain_columns[f.attname]} FROM chain WHERE n = {n})"  # noqa: S608
            for f in chained
        ]
        rows_sql.append("(" + ", ".join(["%s"] * len(own) + from_chain) + ")")
    # The arrays are written as ARRAY[...] of plain text parameters: psycopg adapts a Python
    # list element by element in Python (three lists: about 0.1 ms of CPU per append).
    array = "ARRAY[" + ", ".join(["%s"] * rows) + "]::text[]"
    key = "%s" if after is None else f"(SELECT %s::bigint FROM {after})"  # noqa: S608
    call = f"iptcare_audit_next({key}, %s, {array}, {array}, {array})"
    cte = (
        "chain AS MATERIALIZED (SELECT new_chain, new_seq, new_prev_hash, new_hash, n"  # noqa: S608
        f" FROM {call} WITH ORDINALITY AS c(new_chain, new_seq, new_prev_hash, new_hash, n))"
    )
    insert = f"INSERT INTO {table} ({columns}) VALUES {', '.join(rows_sql)}"  # noqa: S608
    return cte, f"{insert} RETURNING {RETURNED}"


# What an append's INSERT returns of each row (``_pg_appended`` reads them in this order).
RETURNED = "id, chain, seq, prev_hash, hash"


def _pg_insert_sql(rows: int) -> str:
    """PostgreSQL: one statement that appends ``rows`` events (``_pg_parts``)."""
    cte, insert = _pg_parts(rows)
    return f"WITH {cte} {insert}"


def _pg_params(chunk: Sequence[PreparedEvent]) -> list[Any]:
    """The parameters of ``_pg_parts(len(chunk))``, in the order of their placeholders."""
    params: list[Any] = [
        _PG_LOCK_KEY,
        chains(),
        *(event.parts[i] for i in range(3) for event in chunk),
    ]
    for event in chunk:
        params.extend(event.values)
    return params


def _pg_appended(
    chunk: Sequence[PreparedEvent], returned: Iterable[Sequence[Any]]
) -> list[AuditEvent]:
    """The appended events of ``chunk`` from the rows its INSERT returned (``RETURNED``), which
    come in no particular order: put back in chain order (one statement appends to one chain)."""
    rows = sorted(returned, key=lambda row: int(row[2]))
    return [
        AuditEvent(id=pk, **event.finished(int(chain), int(seq), prev_hash, digest))
        for event, (pk, chain, seq, prev_hash, digest) in zip(chunk, rows, strict=True)
    ]


def pg_append_ctes(ready: Sequence[PreparedEvent], *, after: str) -> tuple[str, list[Any]]:
    """PostgreSQL: the append of ``ready`` (at most ``_ROWS_PER_INSERT`` events) as two CTEs of
    a larger statement — ``chain AS MATERIALIZED (...), audit AS (INSERT ... RETURNING ...)`` —
    and their parameters (``iptcare.core.db.statement``, ADR 0013). The statement may read the
    rows of ``audit`` (``RETURNED``).

    ``after`` names a MATERIALIZED CTE of one row that has made the statement's other writes
    run (by reading their RETURNING): the chain's lock is taken only after it, so that the lock
    comes last, as everywhere else (the audit event is the last write of its transaction), and
    is held to the end of the statement's transaction, as with ``append``. Taking it first could
    deadlock with a transaction that holds a row this statement writes and waits for the lock."""
    if not ready or len(ready) > _ROWS_PER_INSERT:
        raise ValueError(f"Between 1 and {_ROWS_PER_INSERT} events per statement.")
    cte, insert = _pg_parts(len(ready), after)
    return f"{cte}, audit AS ({insert})", _pg_params(ready)


# The chain's own fields: known only under the lock, at the head. (``chain`` is not hashed: its
# genesis binds each event to its chain through the links, ``models.genesis_hash``.)
_CHAIN_FIELDS = ("chain", "seq", "prev_hash", "hash")
# The canonical JSON's members in their (sorted) order; ``seq`` and ``prev_hash`` are among them,
# ``prev_hash`` first (``PreparedEvent.parts`` relies on it).
_CANONICAL_ORDER = tuple(sorted(HASHED_FIELDS))
_PREV_AT, _SEQ_AT = _CANONICAL_ORDER.index("prev_hash"), _CANONICAL_ORDER.index("seq")
assert _PREV_AT < _SEQ_AT


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
    lock only the chain, ``seq``, ``prev_hash`` and the hash remain to compute (``at``; on
    PostgreSQL the database computes them, from ``parts``).

    The hash is the same as ``compute_hash`` of the finished fields: the canonical JSON of a
    flat object with sorted keys is its members, each written on its own, joined in key order
    (tests/test_audit_chain.py checks the two agree)."""

    __slots__ = ("fields", "parts", "values")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        fields = dict(fields)
        # Microsecond precision survives both databases, so the hash recomputes exactly.
        fields["occurred_at"] = fields["occurred_at"].astimezone(UTC)
        self.fields = fields
        members = [
            "" if name in _CHAIN_FIELDS else _member(name, fields.get(name))
            for name in _CANONICAL_ORDER
        ]
        # The canonical JSON around the two values only the chain's head gives:
        # ``head + prev_hash + middle + str(seq) + tail``. A hash is hex, so ``prev_hash`` is
        # written as it is, between its quotes; ``seq`` is an integer.
        self.parts: tuple[str, str, str] = (
            "{" + "".join(m + "," for m in members[:_PREV_AT]) + '"prev_hash":"',
            '",' + "".join(m + "," for m in members[_PREV_AT + 1 : _SEQ_AT]) + '"seq":',
            "".join("," + m for m in members[_SEQ_AT + 1 :]) + "}",
        )
        # The database values of every column but the chain's own, in ``_unchained_model_fields``
        # order.
        self.values = [
            f.get_db_prep_save(fields[f.attname], connection) for f in _unchained_model_fields()
        ]

    def at(self, chain: int, seq: int, prev_hash: str) -> tuple[dict[str, Any], list[Any]]:
        """The finished fields and the database values (``_model_fields`` order) of this event
        at ``seq`` of ``chain`` after ``prev_hash``."""
        head, middle, tail = self.parts
        canonical = f"{head}{prev_hash}{middle}{int(seq)}{tail}"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        finished = self.finished(chain, seq, prev_hash, digest)
        return finished, self._row(finished)

    def finished(self, chain: int, seq: int, prev_hash: str, digest: str) -> dict[str, Any]:
        return {**self.fields, "chain": chain, "seq": seq, "prev_hash": prev_hash, "hash": digest}

    def _row(self, finished: Mapping[str, Any]) -> list[Any]:
        own = iter(self.values)
        chained = {name: finished[name] for name in _CHAIN_FIELDS}
        return [
            chained[f.attname] if f.attname in _CHAIN_FIELDS else next(own) for f in _model_fields()
        ]


@functools.cache
def _model_fields() -> tuple[Any, ...]:
    return tuple(f for f in AuditEvent._meta.concrete_fields if not f.primary_key)


@functools.cache
def _chain_model_fields() -> tuple[Any, ...]:
    return tuple(f for f in _model_fields() if f.attname in _CHAIN_FIELDS)


@functools.cache
def _unchained_model_fields() -> tuple[Any, ...]:
    return tuple(f for f in _model_fields() if f.attname not in _CHAIN_FIELDS)


def prepare(fields: Mapping[str, Any]) -> PreparedEvent:
    """Make an event ready to append (outside the lock: see ``PreparedEvent``)."""
    return PreparedEvent(fields)


def append(fields: dict[str, Any] | PreparedEvent) -> AuditEvent:
    """Append one event at the head of the chain, in the caller's transaction if there is one."""
    return append_many([fields])[0]


def append_many(batch: Sequence[dict[str, Any] | PreparedEvent]) -> list[AuditEvent]:
    """Append events in order at the head of one chain, in the caller's transaction if any.

    The audit write is on the path of every clinical page, so it is plain statements under the
    lock rather than ORM saves; values are still prepared by the model's own fields, exactly as
    the ORM would — before the lock, except the chain's own (``prepare``). All events of a batch
    go in one multi-row INSERT (up to ``_ROWS_PER_INSERT`` rows each): every statement under the
    lock is another round trip, or on SQLite another wait for the GIL, with every other writer
    waiting (bench/README.md).

    - PostgreSQL: one statement per INSERT picks the transaction's chain, takes its lock, reads
      its head, hashes and inserts (``_pg_insert_sql``, ADR 0012, 0014). Outside a transaction
      a batch of one statement runs in autocommit: it is its own transaction.
    - SQLite: ``BEGIN IMMEDIATE`` holds the write lock; chain 0's head is read, the hashes
      computed in Python, then the INSERT.
    """
    if not batch:
        return []
    ready = [item if isinstance(item, PreparedEvent) else PreparedEvent(item) for item in batch]
    if (
        connection.vendor == "postgresql"
        and len(ready) <= _ROWS_PER_INSERT
        and connection.get_autocommit()
        and not connection.in_atomic_block
    ):
        # Outside any transaction one statement is its own (autocommit): its lock is held
        # until its own commit, as in a transaction, without a BEGIN and a COMMIT round trip
        # around it — on every audited page that writes nothing else.
        with connection.cursor() as cursor:
            return _append_pg(cursor, ready)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _append_pg(cursor, ready)
        return _append_sqlite(cursor, ready)


def _append_pg(cursor: CursorWrapper, ready: list[PreparedEvent]) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for start in range(0, len(ready), _ROWS_PER_INSERT):
        chunk = ready[start : start + _ROWS_PER_INSERT]
        cursor.execute(_pg_insert_sql(len(chunk)), _pg_params(chunk))
        events.extend(_pg_appended(chunk, cursor.fetchall()))
    return events


def _append_sqlite(cursor: CursorWrapper, ready: list[PreparedEvent]) -> list[AuditEvent]:
    head = _read_head_under_lock(cursor)
    seq, prev_hash = head if head else (0, genesis_hash(_SQLITE_CHAIN))
    rows: list[tuple[dict[str, Any], list[Any]]] = []
    for event in ready:
        seq += 1
        fields, values = event.at(_SQLITE_CHAIN, seq, prev_hash)
        prev_hash = fields["hash"]
        rows.append((fields, values))
    ids: dict[int, int] = {}
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        cursor.execute(_insert_sql(len(chunk)), [value for _, values in chunk for value in values])
        # RETURNING gives no order guarantee: match the ids back by seq.
        ids.update({row_seq: pk for pk, row_seq in cursor.fetchall()})
    return [AuditEvent(id=ids[fields["seq"]], **fields) for fields, _ in rows]


@dataclass(frozen=True)
class ChainHead:
    """Where one chain ends: its number, how many events it holds, its last seq and hash."""

    chain: int
    events: int
    seq: int
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    # Every chain walked in full, in chain order (with a break: those before the broken one).
    heads: tuple[ChainHead, ...] = ()
    bad_chain: int | None = None
    bad_seq: int | None = None
    bad_id: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(events: Iterable[AuditEvent] | None = None) -> VerifyResult:
    """Walk each chain in seq order; report the first event that does not fit.

    Detects an edited event (its hash no longer matches its content), a deleted one (a gap in seq
    and a broken link), an inserted one (a broken link or a seq out of place), a reordering (seq
    is inside the hash, and each event names its predecessor's hash) and an event moved to
    another chain (each chain starts from its own genesis, so it no longer links).

    ``events``: in (chain, seq) order; by default the whole trail.
    """
    if events is None:
        events = AuditEvent.objects.order_by("chain", "seq", "id").iterator(chunk_size=2000)
    heads: list[ChainHead] = []
    current: int | None = None
    expected_seq, expected_prev, checked, in_chain = 1, "", 0, 0
    for event in events:
        if event.chain != current:
            if current is not None:
                heads.append(ChainHead(current, in_chain, expected_seq - 1, expected_prev))
            current, expected_seq, in_chain = event.chain, 1, 0
            expected_prev = genesis_hash(event.chain)
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
                heads=tuple(heads),
                bad_chain=event.chain,
                bad_seq=event.seq,
                bad_id=event.id,
                problem=problem,
            )
        checked += 1
        in_chain += 1
        expected_seq, expected_prev = event.seq + 1, event.hash
    if current is not None:
        heads.append(ChainHead(current, in_chain, expected_seq - 1, expected_prev))
    return VerifyResult(ok=True, checked=checked, heads=tuple(heads))
