"""Writing to the audit trail. Every write goes through ``record``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack
from uuid import UUID

from django.conf import settings
from django.db import connection
from django.utils import timezone

from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.audit import chain
from iptcare.audit.models import AuditEvent, Outcome
from iptcare.core import request_context

if TYPE_CHECKING:
    from iptcare.accounts.models import User

_batch: ContextVar[list[chain.PreparedEvent] | None] = ContextVar(
    "iptcare_audit_batch", default=None
)


@contextmanager
def batched() -> Iterator[None]:
    """Append the events of a read-only composition (a chart, a caseload) together, on exit.

    A page that reads four categories of a client's record writes four events; appending them
    in one transaction takes the chain lock and commits once instead of four times. The events
    are written before the page is returned — also when the body raises (a denial's event is
    never lost) — and an event recorded inside a write transaction is still written at once,
    in that transaction, with the work it allowed. Nested use joins the outer batch.
    """
    if _batch.get() is not None:
        yield
        return
    pending: list[chain.PreparedEvent] = []
    token = _batch.set(pending)
    try:
        yield
    finally:
        _batch.reset(token)
        chain.append_many(pending)


class EventFields(TypedDict, total=False):
    """What a caller says about an event (``record``, ``prepare``); the rest comes from the
    request (``request_context``) and the chain."""

    actor: Required[User | None]
    action: Required[Action]
    data_category: Required[DataCategory]
    outcome: Required[Outcome]
    actor_role: str
    actor_email: str
    organisation_id: UUID | None
    client_id: UUID | None
    resource_type: str
    resource_id: str
    purpose: Purpose | str
    reason: str
    detail: dict[str, Any] | None


def record(**fields: Unpack[EventFields]) -> AuditEvent | None:
    """Append one event. Runs in the caller's transaction, so it commits or rolls back with it.

    Inside ``batched()`` and outside any transaction, the event is queued for the batch instead
    (and ``None`` is returned).
    """
    event = prepare(**fields)
    if event is None:
        return None
    pending = _batch.get()
    if pending is not None and not connection.in_atomic_block:
        pending.append(event)
        return None
    return chain.append(event)


def prepare(**fields: Unpack[EventFields]) -> chain.PreparedEvent | None:
    """The event ``record`` would append, made ready now and appended later with
    ``record_prepared`` (None while the audit trail is switched off).

    For a write path that holds a lock from the start of its transaction (SQLite's writer):
    everything but the event's place in the chain is computed before the lock is taken. The
    event's time is the time of this call."""
    if not settings.IPTCARE_AUDIT_ENABLED:
        return None
    meta = request_context.current()
    actor = fields["actor"]
    org_id = fields.get("organisation_id")
    if org_id is None and actor is not None and actor.organisation is not None:
        org_id = actor.organisation.public_id
    return chain.prepare(
        {
            "occurred_at": timezone.now(),
            "actor_id": actor.public_id if actor is not None else None,
            "actor_email": actor.email if actor is not None else fields.get("actor_email", ""),
            "actor_role": fields.get("actor_role", ""),
            "organisation_id": org_id,
            "client_id": fields.get("client_id"),
            "data_category": str(fields["data_category"]),
            "action": str(fields["action"]),
            "resource_type": fields.get("resource_type", ""),
            "resource_id": fields.get("resource_id", ""),
            "purpose": str(fields.get("purpose", "")),
            "outcome": str(fields["outcome"]),
            "reason": fields.get("reason", "")[:500],
            "request_id": meta.request_id,
            "ip": meta.ip,
            "user_agent": meta.user_agent,
            "detail": fields.get("detail") or {},
        }
    )


def record_prepared(event: chain.PreparedEvent | None) -> AuditEvent | None:
    """Append an event made by ``prepare``, in the caller's transaction (which must be open: the
    event belongs to the work it records)."""
    if event is None:
        return None
    if not connection.in_atomic_block:
        raise RuntimeError("record_prepared runs inside the transaction of the work it records.")
    return chain.append(event)
