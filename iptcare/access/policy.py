"""THE access policy: every access to clinical (and other protected) data is decided here.

``decide`` is pure: it answers and explains. The rest decides *and* leaves the audit event that
says what happened (ADR 0015):

- ``authorize`` — a read: one event per access, or the refusal's event and ``Forbidden``;
- ``writing`` — a write: one transaction whose last write is its event (success), or, after the
  rollback, one event for the failure or the refusal;
- ``check`` — a route's check before an empty form or before it hands a write to its service:
  a refusal is recorded and raised, an allowance records nothing.

Deny by default: anything the role table does not grant is refused, and so is anything outside
the actor's organisation or program scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Protocol
from uuid import UUID

from django.db import transaction

from iptcare.access.roles import IDENTIFYING, ROLE_TABLE
from iptcare.access.scope import ResourceScope
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role, Scope
from iptcare.audit import services as audit
from iptcare.audit.models import Outcome
from iptcare.audit.services import EventFields
from iptcare.core.errors import DomainError, Forbidden, NotFound

if TYPE_CHECKING:
    from iptcare.accounts.models import User


class Scoped(Protocol):
    """Anything the policy can reason about: it knows its organisation and, maybe, its program."""

    @property
    def access_scope(self) -> ResourceScope: ...


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    role: str = ""
    # Refusals across organisations answer "not found": another tenant's records do not exist.
    conceal: bool = False

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class LinkHolder:
    """Whoever opens a single-use questionnaire link: not signed in, known only by the link,
    whose unused and unexpired secret is their one credential. They may store the one
    administration the link asks for, in the record of the link's client, for treatment; nothing
    else (``decide``)."""

    organisation_id: int
    client_id: UUID
    link_id: UUID
    is_authenticated = False
    is_active = True

    # What the audit trail writes in an event's actor columns.
    AUDIT_EMAIL = "client (single-use link)"
    AUDIT_ROLE = "single-use link"


def _decide_for_link(
    holder: LinkHolder,
    action: Action,
    scope: ResourceScope,
    category: DataCategory,
    purpose: Purpose,
) -> Decision:
    if holder.organisation_id != scope.organisation_id:
        return Decision(False, "resource belongs to another organisation", conceal=True)
    if (action, category, purpose) != (
        Action.CREATE,
        DataCategory.CLINICAL_RECORD,
        Purpose.TREATMENT,
    ):
        return Decision(False, "a single-use link submits its questionnaire and nothing else")
    if scope.client_id != holder.client_id:
        return Decision(False, "a single-use link is for its own client's record only")
    return Decision(
        True,
        "the holder of an unused single-use link may submit its questionnaire",
        role=LinkHolder.AUDIT_ROLE,
    )


def decide(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
) -> Decision:
    if isinstance(actor, LinkHolder):
        return _decide_for_link(actor, action, resource.access_scope, category, purpose)
    if actor is None or not getattr(actor, "is_authenticated", False):
        return Decision(False, "not signed in")
    if not actor.is_active:
        return Decision(False, "account is deactivated")
    scope = resource.access_scope
    if actor.organisation_id is None or actor.organisation_id != scope.organisation_id:
        return Decision(False, "resource belongs to another organisation", conceal=True)

    roles = sorted(actor.role_set)
    if not roles:
        return Decision(False, "user holds no role")

    refusals: list[str] = []
    for role in roles:
        policy = ROLE_TABLE[Role(role)]
        if not policy.permits(category, action):
            continue
        if purpose not in policy.purposes:
            refusals.append(f"{Role(role).label} may not act for purpose '{purpose}'")
            continue
        if Purpose.RESEARCH in policy.purposes and category in IDENTIFYING:
            # Belt and braces: the table never grants this, and a test keeps it so.
            refusals.append("research access is limited to de-identified and aggregate data")
            continue
        if policy.scope == Scope.SELF and (
            scope.client_id is None or scope.client_id != actor.portal_client_public_id
        ):
            refusals.append(f"{Role(role).label} may see their own record only")
            continue
        if (
            policy.scope == Scope.PROGRAM
            and scope.program_id is not None
            and scope.program_id not in actor.program_ids
        ):
            refusals.append(f"{Role(role).label} is not assigned to this program")
            continue
        return Decision(True, f"{Role(role).label} may {action} {category}", role=str(role))

    if refusals:
        return Decision(False, "; ".join(refusals))
    return Decision(False, f"no role of this user may {action} {category}")


def program_reach(
    actor: User | Any, action: Action, category: DataCategory, purpose: Purpose
) -> frozenset[int] | None:
    """The programs of the actor's organisation in which ``decide`` could allow ``action`` on
    ``category`` for ``purpose``: a filter for list queries, so that a list never has to load
    the whole organisation to find the few rows the actor may see. ``None`` means every program
    (an organisation-wide role); an empty set means none. ``decide`` still runs on every row.
    """
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return frozenset()
    reach: set[int] = set()
    for role in actor.role_set:
        policy = ROLE_TABLE[Role(role)]
        if not policy.permits(category, action) or purpose not in policy.purposes:
            continue
        if policy.scope == Scope.ORGANISATION:
            return None
        if policy.scope == Scope.PROGRAM:
            reach |= actor.program_ids
    return frozenset(reach)


# Actions that read; every other action changes something and goes through ``writing``.
READ_ACTIONS = frozenset({Action.VIEW, Action.LIST, Action.EXPORT})


def _role_of(actor: User | Any, decision: Decision) -> str:
    return decision.role or ",".join(sorted(getattr(actor, "role_set", ())))


def _event(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
    decision: Decision,
    outcome: Outcome,
    reason: str,
    detail: dict[str, Any] | None,
) -> EventFields:
    scope = resource.access_scope
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    fields: EventFields = {
        "actor": actor if authenticated else None,
        "actor_role": _role_of(actor, decision),
        "organisation_id": scope.organisation_public_id,
        "client_id": scope.client_id,
        "data_category": category,
        "action": action,
        "resource_type": scope.resource_type,
        "resource_id": scope.resource_id,
        "purpose": purpose,
        "outcome": outcome,
        "reason": reason,
        "detail": detail,
    }
    if isinstance(actor, LinkHolder):
        fields["actor_email"] = LinkHolder.AUDIT_EMAIL
        fields["detail"] = {**(detail or {}), "link": str(actor.link_id)}
    return fields


def _refuse(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
    decision: Decision,
    detail: dict[str, Any] | None,
) -> NoReturn:
    """Keep the refusal's event for the request's edge (it outlives any rollback) and raise.
    A refused write's event keeps only the labels of the caller's detail (``_policy_detail``)."""
    event = _event(
        actor,
        action,
        resource,
        category,
        purpose,
        decision,
        Outcome.DENIED,
        decision.reason,
        detail if action in READ_ACTIONS else _policy_detail(None, detail),
    )
    if action not in READ_ACTIONS:
        audit.wrote(event)
    audit.record_at_edge(**event)
    refusal: DomainError = (
        NotFound("Not found.")
        if decision.conceal
        else Forbidden(f"Access refused: {decision.reason}.")
    )
    refusal.recorded = True
    raise refusal


def check(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
    *,
    detail: dict[str, Any] | None = None,
) -> Decision:
    """Decide; a refusal is recorded and raised, an allowance records nothing. For a route that
    opens an empty form, or checks before it hands a write to its service (which decides again
    and records what happened): nothing has been read or written yet."""
    decision = decide(actor, action, resource, category, purpose)
    if not decision.allowed:
        _refuse(actor, action, resource, category, purpose, decision, detail)
    if action not in READ_ACTIONS:
        _intent(actor, action, resource, category, purpose, decision, detail)
    return decision


def _intent(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
    decision: Decision,
    detail: dict[str, Any] | None,
) -> None:
    """The write this check was for, kept for the edge: recorded only if the request then
    fails before any service said what happened (``audit.record_intent``)."""
    audit.record_intent(
        **_event(
            actor, action, resource, category, purpose, decision, Outcome.FAILURE, "",
            detail,
        )
    )  # fmt: skip


def authorize(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
    *,
    detail: dict[str, Any] | None = None,
) -> Decision:
    """A read, or the lookup of a record for a write: decide, and record what the route will
    do with it — or record the refusal and raise ``Forbidden`` (``NotFound`` across
    organisations). Events are appended at the request's edge (``audit.services``).

    - VIEW, LIST, EXPORT: one event, outcome success, with the decision's role and reason.
    - UPDATE, SIGN, MANAGE (an edit form shows the record as it is): one VIEW event, its detail
      naming the write it was opened for. When the same request then writes (or tries to write)
      that record, its write's event is the request's one event and this one is not appended.
    - CREATE (the record a new one will belong to: an empty form): nothing is recorded; the
      write's service records what happened (``writing``).

    A lookup for a write is also kept as the request's intent: if the request asks for a change
    and fails before any service recorded what happened (its form was refused by the page), the
    edge records one failure event for it (``audit.record_intent``).
    """
    decision = decide(actor, action, resource, category, purpose)
    if not decision.allowed:
        _refuse(actor, action, resource, category, purpose, decision, detail)
    if action not in READ_ACTIONS:
        _intent(actor, action, resource, category, purpose, decision, detail)
    if action == Action.CREATE:
        return decision
    read, detail = action, dict(detail or {})
    if action not in READ_ACTIONS:
        read, detail["for"] = Action.VIEW, str(action)
    audit.record_at_edge(
        **_event(
            actor, read, resource, category, purpose, decision, Outcome.SUCCESS,
            decision.reason, detail or None,
        )
    )  # fmt: skip
    return decision


@dataclass
class Grant:
    """An allowed write in progress (``writing``): what its event will say (``record_as``;
    ``detail`` may be added to — never a submitted value that the record itself does not
    keep)."""

    decision: Decision
    event: EventFields
    detail: dict[str, Any] = field(default_factory=dict)

    def record_as(self, record: Scoped | None = None, *, action: Action | None = None) -> None:
        """Name what the write did, where it says more than the decision: the record it made
        (a note rather than the client it was written for), or the action it amounted to (a
        privilege change rather than an update of an account)."""
        if record is not None:
            scope = record.access_scope
            self.event["resource_type"] = scope.resource_type
            self.event["resource_id"] = scope.resource_id
            if scope.client_id is not None:  # a new client's record names the client
                self.event["client_id"] = scope.client_id
        if action is not None:
            self.event["action"] = action


_current_write: ContextVar[Grant | None] = ContextVar("iptcare_current_write", default=None)


# A field's name as the forms, schemas and services name them: dotted segments of lowercase
# letters and underscores, or an item's number, or a record's public id (a roster's seat is named
# by its client's). Anything else among an error's field names (a key of a submitted mapping that
# slipped through as a name) is written as "other": a submitted key is a submitted value.
_FIELD_NAME = re.compile(
    r"(?=.{1,60}$)(?:[a-z][a-z_]{0,39}|[0-9]{1,3})(?:\.(?:[a-z][a-z_]{0,39}|[0-9]{1,3})){0,3}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


# A label a service puts in an event's detail to say which write it was.
_LABEL = re.compile(r"[a-z][a-z_]{0,39}")


def failure_reason(exc: BaseException) -> str:
    """What a failed write's event says of its error: the kind and the names of the fields it
    concerns, never the submitted values (a message may quote them, and a submitted mapping's
    keys are values too: a name that is not shaped like a field's is written as "other")."""
    status = getattr(exc, "status", None)
    kind = type(exc).__name__ + (f" ({status})" if status else "")
    names = {
        name if _FIELD_NAME.fullmatch(name) else "other"
        for name in map(str, getattr(exc, "field_errors", None) or {})
    }
    return f"failed: {kind}" + (f"; fields: {', '.join(sorted(names))}" if names else "")


@contextmanager
def writing(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
    *,
    detail: dict[str, Any] | None = None,
) -> Iterator[Grant]:
    """A write: decide, then run the body in one transaction whose last write is the write's one
    audit event (outcome success, the decision's role and reason).

    - Refused: nothing runs; the refusal is recorded at the request's edge; ``Forbidden`` (or
      ``NotFound``) is raised.
    - The body (or the commit) raises: the transaction leaves nothing, and one event with
      outcome failure, naming the error's kind and fields, is recorded at the request's edge,
      after the rollback.
    - Inside another ``writing`` (a correction that resolves the alerts it withdrew): decided
      the same way, run in a savepoint, and recorded in the outer write's event (its
      ``detail["also"]``), which is the one event of the whole write.

    The outermost write must be the outermost transaction (``durable``): its event is then in
    the transaction that commits the work, never in one a caller could still roll back.
    """
    decision = decide(actor, action, resource, category, purpose)
    if not decision.allowed:
        _refuse(actor, action, resource, category, purpose, decision, detail)
    event = _event(
        actor,
        action,
        resource,
        category,
        purpose,
        decision,
        Outcome.SUCCESS,
        decision.reason,
        detail,
    )
    grant = Grant(decision=decision, event=event, detail=dict(event.get("detail") or {}))
    outer = _current_write.get()
    if outer is not None:
        audit.wrote(event)
        with transaction.atomic():
            yield grant
        outer.detail.setdefault("also", []).append(
            {
                "action": str(action),
                "resource_type": event.get("resource_type", ""),
                "resource_id": event.get("resource_id", ""),
                **grant.detail,
            }
        )
        return
    # Outside a request (a command, a test) the write is its own edge: a refusal or failure
    # inside it is appended after its transaction has ended, never inside the rollback.
    with audit.edge():
        audit.wrote(event)
        token = _current_write.set(grant)
        committed: list[bool] = []
        try:
            with transaction.atomic(durable=True):
                # Registered first, so it runs first after the commit: a side effect the body
                # registered (an email) that then fails leaves the committed write's one event
                # alone.
                transaction.on_commit(lambda: committed.append(True))
                yield grant
                done: EventFields = {**grant.event, "detail": grant.detail}
                audit.record(**done)
        except BaseException as exc:
            if not committed and not getattr(exc, "recorded", False):
                failed: EventFields = {
                    **grant.event,
                    "outcome": Outcome.FAILURE,
                    "reason": failure_reason(exc),
                    # Only the labels of the caller's detail: the rest may be what was submitted,
                    # and the writes nested in it were rolled back with it.
                    "detail": _policy_detail(actor, grant.detail),
                }
                audit.record_at_edge(**failed)
            raise
        finally:
            _current_write.reset(token)


def _policy_detail(actor: User | Any, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The detail of a failed or refused write's event: what the policy itself gives an event of
    ``actor`` (``_event``), and of the caller's detail only the labels — a value shaped like a
    name (``{"alert": "acknowledge"}``) or a flag. Anything else the caller put there (a code, a
    list, a text) may be what was submitted, which such an event never carries."""
    kept: dict[str, Any] = {
        key: value
        for key, value in (detail or {}).items()
        if _FIELD_NAME.fullmatch(key)
        and (isinstance(value, bool) or (isinstance(value, str) and _LABEL.fullmatch(value)))
    }
    if isinstance(actor, LinkHolder):
        kept["link"] = str(actor.link_id)
    return kept
