"""Writing to the audit trail.

Three moments, one rule each (ADR 0015):

- ``record`` appends now, in the caller's transaction if there is one: a successful write's
  event is the last write of the write's own transaction, so they commit or roll back together.
- ``record_at_edge`` keeps an event for the request's edge (``edge``, bound by
  ``AuditEdgeMiddleware`` around every request), which
  appends what it kept once the view has returned — after any transaction of the request has
  committed or rolled back, on the request's own connection — and before the response leaves.
  A refusal and a failed write are kept this way, so that the rollback of the work they stopped
  cannot take their event with it; so is a read, so that a page's reads are appended together.
  Outside a request, a write (``access.policy.writing``) is its own edge; anything else outside
  an edge (a read in a test or a shell) is appended at once.
- Reads of a client or record the same request then wrote (or tried to write) are not
  appended: the write's own event names it, and the reads were the route preparing the write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.audit import chain
from iptcare.audit.models import AuditEvent, Outcome
from iptcare.core import request_context

if TYPE_CHECKING:
    from iptcare.accounts.models import User


class EventFields(TypedDict, total=False):
    """What a caller says about an event; the rest comes from the request
    (``request_context``) and the chain."""

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


def event_fields(**fields: Unpack[EventFields]) -> dict[str, Any]:
    """The event's own fields (everything but its place in the chain), timed now."""
    meta = request_context.current()
    actor = fields["actor"]
    org_id = fields.get("organisation_id")
    if org_id is None and actor is not None and actor.organisation is not None:
        org_id = actor.organisation.public_id
    return {
        "occurred_at": timezone.now(),
        "actor_id": actor.public_id if actor is not None else None,
        "actor_email": actor.email if actor is not None else fields.get("actor_email", ""),
        "actor_role": fields.get("actor_role", "")[:200],
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


def record(**fields: Unpack[EventFields]) -> AuditEvent | None:
    """Append one event now, in the caller's transaction if there is one (None while the trail
    is switched off, which only the benchmark's comparison run does)."""
    if not settings.IPTCARE_AUDIT_ENABLED:
        return None
    return chain.append([event_fields(**fields)])[0]


@dataclass
class _Edge:
    """What one request keeps for its edge."""

    reads: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    # What the request wrote or tried to write: ``_keys`` of each write's event.
    written: set[str] = field(default_factory=set)
    # The writes a route looked a record up for (``record_intent``), as failure events, and how
    # the request was answered (``answered``).
    intents: list[dict[str, Any]] = field(default_factory=list)
    refused: str = ""

    def answered(self, method: str, status: int) -> None:
        """How the request was answered: a request that asks for a change (not GET, HEAD,
        OPTIONS) answered with an error is a failed write, even if its route refused it before
        any service ran (a page's form with a missing field)."""
        if method not in ("GET", "HEAD", "OPTIONS", "TRACE") and status >= 400:
            self.refused = f"failed: HTTP {status}, refused by the page before its service ran"


_edge: ContextVar[_Edge | None] = ContextVar("iptcare_audit_edge", default=None)


def record_at_edge(**fields: Unpack[EventFields]) -> None:
    """Keep an event for the request's edge (see the module's docstring): a read (outcome
    success), a refusal (denied) or a failed write (failure)."""
    if not settings.IPTCARE_AUDIT_ENABLED:
        return
    event = event_fields(**fields)
    kept = _edge.get()
    if kept is None:
        chain.append([event])
    elif event["outcome"] == Outcome.SUCCESS:
        kept.reads.append(event)
    else:
        kept.outcomes.append(event)


def _keys(event: EventFields | dict[str, Any]) -> set[str]:
    """The client and the record an event is about, as keys of ``_Edge.written``."""
    keys = {f"{event.get('resource_type', '')}:{event.get('resource_id', '')}"}
    if event.get("client_id") is not None:
        keys.add(f"client:{event['client_id']}")
    return keys


def record_intent(**fields: Unpack[EventFields]) -> None:
    """Keep, for the request's edge, the write a route looked a record up for (an empty form's
    client, an edit form's record). Nothing is recorded for it, unless the request asked for a
    change, was answered with an error and no write of a service said what happened: then it
    is the request's one failure event (``_Edge.answered``)."""
    kept = _edge.get()
    if kept is not None and settings.IPTCARE_AUDIT_ENABLED:
        kept.intents.append(event_fields(**fields))


def wrote(event: EventFields) -> None:
    """Note that the request wrote (or tried to write) what ``event`` is about: its reads of the
    same client or record are then not appended at its edge — the write's event names them, and
    the reads were the route preparing the write."""
    kept = _edge.get()
    if kept is not None:
        kept.written |= _keys(event)


def _same_access(event: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        str(event[name])
        for name in (
            "actor_id",
            "action",
            "data_category",
            "purpose",
            "resource_type",
            "resource_id",
            "client_id",
            "detail",
        )
    )


def _kept_events(kept: _Edge) -> list[dict[str, Any]]:
    """What the edge appends: each distinct read once (a route and the selector it calls may ask
    for the same access), except reads of a client the request wrote; then the outcomes."""
    outcomes = list(kept.outcomes)
    if kept.refused and kept.intents and not kept.written:
        intent = kept.intents[0]
        outcomes.append({**intent, "outcome": str(Outcome.FAILURE), "reason": kept.refused})
        kept.written |= _keys(intent)
    reads: dict[tuple[Any, ...], dict[str, Any]] = {}
    for event in kept.reads:
        if _keys(event) & kept.written:
            continue
        reads.setdefault(_same_access(event), event)
    return [*reads.values(), *outcomes]


@contextmanager
def edge() -> Iterator[_Edge]:
    """The edge of a request: events kept with ``record_at_edge`` are appended, together, when
    the body has ended — also when it raised. Nested use joins the outer edge."""
    outer = _edge.get()
    if outer is not None:
        yield outer
        return
    kept = _Edge()
    token = _edge.set(kept)
    try:
        yield kept
    finally:
        _edge.reset(token)
        chain.append(_kept_events(kept))
