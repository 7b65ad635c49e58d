"""THE access policy: every access to clinical (and other protected) data is decided here.

``decide`` is pure: it answers and explains. ``authorize`` decides *and* writes the audit event
(allowed or denied) and raises ``Forbidden`` on a denial. Deny by default: anything the role table
does not grant is refused, and so is anything outside the actor's organisation or program scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from iptcare.access.roles import IDENTIFYING, ROLE_TABLE
from iptcare.access.scope import ResourceScope
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role, Scope
from iptcare.core.errors import Forbidden, NotFound

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


def decide(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
) -> Decision:
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


def authorize(
    actor: User | Any,
    action: Action,
    resource: Scoped,
    category: DataCategory,
    purpose: Purpose,
    *,
    detail: dict[str, Any] | None = None,
) -> Decision:
    """Decide, write the audit event, and raise ``Forbidden`` if denied.

    Call it outside the caller's write transaction or at its start: the allowed event then
    commits with the work it allowed. A denial commits its event on its own before raising
    (unless an enclosing transaction is rolled back by the caller).
    """
    from iptcare.audit.models import Outcome
    from iptcare.audit.services import record

    decision = decide(actor, action, resource, category, purpose)
    scope = resource.access_scope
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    record(
        actor=actor if authenticated else None,
        actor_role=decision.role or ",".join(sorted(getattr(actor, "role_set", ()))),
        organisation_id=scope.organisation_public_id,
        client_id=scope.client_id,
        data_category=category,
        action=action,
        resource_type=scope.resource_type,
        resource_id=scope.resource_id,
        purpose=purpose,
        outcome=Outcome.ALLOWED if decision.allowed else Outcome.DENIED,
        reason=decision.reason,
        detail=detail,
    )
    if not decision.allowed:
        if decision.conceal:
            raise NotFound("Not found.")
        raise Forbidden(f"Access refused: {decision.reason}.")
    return decision
