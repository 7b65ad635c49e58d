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
- A request that wrote, or tried to write, is recorded by its write's event alone: the reads
  its route made to prepare the write are not appended. A request that asked for a change
  (POST, PUT, PATCH, DELETE) and was answered with an error before any service said what
  happened is one failure event about the record its route looked up.
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
    # Whether the request wrote or tried to write (``wrote``).
    written: bool = False
    # The writes a route looked a record up for (``record_intent``), as failure events, and how
    # the request was answered (``answered``).
    intents: list[dict[str, Any]] = field(default_factory=list)
    refused: str = ""

    # The write a refused request asked for, by its method (``answered``).
    refused_action: str = ""

    def answered(self, method: str, status: int) -> None:
        """How the request was answered: a request that asks for a change (not GET, HEAD,
        OPTIONS) answered with an error is a failed write, even if its route refused it before
        any service ran (a page's form with a missing field)."""
        if method not in ("GET", "HEAD", "OPTIONS", "TRACE") and status >= 400:
            self.refused = f"failed: HTTP {status}, refused by the page before its service ran"
            self.refused_action = str(Action.CREATE if method == "POST" else Action.UPDATE)


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


def record_intent(**fields: Unpack[EventFields]) -> None:
    """Keep, for the request's edge, the write a route looked a record up for (an empty form's
    client, an edit form's record). Nothing is recorded for it, unless the request asked for a
    change, was answered with an error and no write of a service said what happened: then it
    is the request's one failure event (``_Edge.answered``)."""
    kept = _edge.get()
    if kept is not None and settings.IPTCARE_AUDIT_ENABLED:
        kept.intents.append(event_fields(**fields))


def wrote(event: EventFields) -> None:
    """Note that the request wrote, or tried to write (``event`` names what): it is then recorded
    by its write's event alone, not by the reads its route made to prepare the write."""
    kept = _edge.get()
    if kept is not None:
        kept.written = True


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


def _refused_write(kept: _Edge) -> dict[str, Any] | None:
    """The one failure event of a request that asked for a change and was refused before any
    service said what happened: about the write its route looked a record up for, or else the
    first record it read (the write the method asked for), or nothing if it touched none."""
    if not kept.refused or kept.written:
        return None
    if kept.intents:
        about = kept.intents[0]
    elif kept.reads:
        about = {**kept.reads[0], "action": kept.refused_action}
    else:
        return None
    detail = {"link": about["detail"]["link"]} if "link" in (about["detail"] or {}) else {}
    return {**about, "outcome": str(Outcome.FAILURE), "reason": kept.refused, "detail": detail}


def _kept_events(kept: _Edge) -> list[dict[str, Any]]:
    """What the edge appends: each distinct read once (a route and the selector it calls may ask
    for the same access), then the outcomes. A request that wrote, or tried to, is recorded by
    its write's event alone: the reads its route made to prepare the write are not appended."""
    outcomes = list(kept.outcomes)
    refused = _refused_write(kept)
    if refused is not None:
        outcomes.append(refused)
    if kept.written or refused is not None:
        return outcomes
    reads: dict[tuple[Any, ...], dict[str, Any]] = {}
    for event in kept.reads:
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
