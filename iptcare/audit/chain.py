"""The SHA-256 hash chain: canonical serialisation, append under a lock, verification.

The trail is one chain (ADR 0015). Each event stores its place (``seq``), its predecessor's hash
(``prev_hash``) and ``hash = SHA-256(canonical JSON of the event, seq and prev_hash included)``.
An append takes the chain's lock, reads the head and inserts after it, in the caller's
transaction, so the event commits or rolls back with the work it records:

- SQLite: every transaction begins ``IMMEDIATE`` (settings), which holds the database's write
  lock from ``BEGIN``: no other writer can append between the head read and the insert.
- PostgreSQL: a transaction-scoped advisory lock, taken by its own statement so that the head
  is read by a later statement, with a snapshot that sees what the previous holder committed
  (in READ COMMITTED each statement takes a fresh snapshot; one statement that locked and read
  would read the head as it was before it waited).

``seq`` and ``prev_hash`` are UNIQUE, so even a locking bug could not fork the chain: a second
writer at the same place fails instead.

Trails written before ADR 0015 on PostgreSQL held several chains side by side. They stay as they
were, closed: the seal event (migration audit/0008) recorded each one's last seq and hash in the
one chain that goes on, and ``verify`` checks every closed chain against that record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

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

# The chain every event is appended to. Chain 0 is the trail's first chain, so a trail written
# before there were several (and every SQLite trail) simply goes on.
LIVE_CHAIN = 0

# Any 64-bit key works; this one is "iptcaud" in ASCII. Advisory locks are per database. It is
# the key chain 0 was appended under before ADR 0015, so a process of an older release still
# running during an upgrade waits for it too.
PG_LOCK_KEY = 0x69707463617564

# What the seal event (migration audit/0008) is: its action, and the resource it names.
SEAL_ACTION = "seal"
SEAL_RESOURCE = "audit_chains"


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


def lock_chain() -> None:
    """Take the chain's lock for the rest of the current transaction (PostgreSQL; on SQLite the
    transaction's ``BEGIN IMMEDIATE`` already holds the database's write lock)."""
    if not connection.in_atomic_block:
        raise RuntimeError("The chain's lock is held by a transaction: open one first.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PG_LOCK_KEY])


def head() -> tuple[int, str]:
    """The live chain's last seq and hash (0 and the genesis hash while it is empty). Read it
    under the chain's lock, or it may be stale by the time it is used."""
    found = (
        AuditEvent.objects.filter(chain=LIVE_CHAIN)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    return found if found is not None else (0, genesis_hash(LIVE_CHAIN))


def append(batch: Sequence[Mapping[str, Any]]) -> list[AuditEvent]:
    """Append events in order at the head of the chain, in the caller's transaction if there is
    one (else in a transaction of their own), and return them saved.

    Each item holds an event's own fields (everything in ``HASHED_FIELDS`` but ``seq`` and
    ``prev_hash``); the chain adds its place and hash. The lock is taken as late as possible —
    the event is the last write of its transaction — so that the chain's lock is held only from
    the append to the commit."""
    if not batch:
        return []
    with transaction.atomic(savepoint=False):
        lock_chain()
        seq, prev_hash = head()
        events = []
        for fields in batch:
            seq += 1
            event = AuditEvent(**fields, chain=LIVE_CHAIN, seq=seq, prev_hash=prev_hash)
            # Microseconds survive both databases, so the hash recomputes exactly.
            event.occurred_at = event.occurred_at.astimezone(UTC)
            event.hash = compute_hash({name: getattr(event, name) for name in HASHED_FIELDS})
            prev_hash = event.hash
            events.append(event)
        return AuditEvent.objects.bulk_create(events)


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

    Detects an edited event (its hash no longer matches its content), a deleted one (a gap in
    seq and a broken link), an inserted one (a broken link or a seq out of place), a reordering
    (seq is inside the hash, and each event names its predecessor's hash) and an event moved to
    another chain (each chain starts from its own genesis, so it no longer links). A chain
    other than the live one must be closed exactly where the seal event in the live chain says
    it ends: an event added to it, or cut off its end, is named; so is an event of a closed
    chain written after the seal, and a second seal (migration audit.0008 seals a trail once).

    ``events``: in (chain, seq) order; by default the whole trail.
    """
    if events is None:
        events = AuditEvent.objects.order_by("chain", "seq", "id").iterator(chunk_size=2000)
    heads: list[ChainHead] = []
    sealed: dict[int, tuple[int, str, AuditEvent]] = {}
    seal: AuditEvent | None = None
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
        elif event.chain == LIVE_CHAIN and event.action == SEAL_ACTION:
            if seal is not None:
                problem = f"a second seal (the trail was sealed at {seal.position})"
            else:
                seal = event
                for chain, end in (event.detail or {}).get("chains", {}).items():
                    sealed[int(chain)] = (int(end["seq"]), str(end["hash"]), event)
        elif (
            event.chain != LIVE_CHAIN
            and seal is not None
            and (event.id > seal.id or event.occurred_at > seal.occurred_at)
        ):
            problem = f"a closed chain's event written after the seal at {seal.position}"
        if problem:
            return _broken(checked, heads, event, problem)
        checked += 1
        in_chain += 1
        expected_seq, expected_prev = event.seq + 1, event.hash
    if current is not None:
        heads.append(ChainHead(current, in_chain, expected_seq - 1, expected_prev))
    problem_at = _unsealed(heads, sealed)
    if problem_at is not None:
        chain_head, problem = problem_at
        return VerifyResult(
            ok=False,
            checked=checked,
            heads=tuple(heads),
            bad_chain=chain_head.chain,
            bad_seq=chain_head.seq,
            bad_id=None,
            problem=problem,
        )
    return VerifyResult(ok=True, checked=checked, heads=tuple(heads))


def _broken(checked: int, heads: list[ChainHead], event: AuditEvent, problem: str) -> VerifyResult:
    return VerifyResult(
        ok=False,
        checked=checked,
        heads=tuple(heads),
        bad_chain=event.chain,
        bad_seq=event.seq,
        bad_id=event.id,
        problem=problem,
    )


def _unsealed(
    heads: list[ChainHead], sealed: Mapping[int, tuple[int, str, AuditEvent]]
) -> tuple[ChainHead, str] | None:
    """The first closed chain that does not end where the seal recorded it, if any."""
    found = {h.chain: h for h in heads}
    for chain_head in heads:
        if chain_head.chain == LIVE_CHAIN:
            continue
        if chain_head.chain not in sealed:
            return chain_head, "a chain beside the live one that no seal event closed"
    for chain, (seq, digest, seal) in sorted(sealed.items()):
        if chain == LIVE_CHAIN:
            continue
        chain_head = found.get(chain, ChainHead(chain, 0, 0, genesis_hash(chain)))
        if (chain_head.seq, chain_head.hash) != (seq, digest):
            return (
                chain_head,
                f"closed chain does not end where seal event {seal.position} recorded it "
                f"(seq {seq}); events were added to it or cut off its end",
            )
    return None
