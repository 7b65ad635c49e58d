"""Writing to the audit trail. Every write goes through ``record``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.audit import chain
from iptcare.audit.models import AuditEvent, Outcome
from iptcare.core import request_context

if TYPE_CHECKING:
    from iptcare.accounts.models import User


def record(
    *,
    actor: User | None,
    action: Action,
    data_category: DataCategory,
    outcome: Outcome,
    actor_role: str = "",
    actor_email: str = "",
    organisation_id: UUID | None = None,
    client_id: UUID | None = None,
    resource_type: str = "",
    resource_id: str = "",
    purpose: Purpose | str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """Append one event. Runs in the caller's transaction, so it commits or rolls back with it."""
    if not settings.IPTCARE_AUDIT_ENABLED:
        return None
    meta = request_context.current()
    org_id = organisation_id
    if org_id is None and actor is not None and actor.organisation is not None:
        org_id = actor.organisation.public_id
    return chain.append(
        {
            "occurred_at": timezone.now(),
            "actor_id": actor.public_id if actor is not None else None,
            "actor_email": actor.email if actor is not None else actor_email,
            "actor_role": actor_role,
            "organisation_id": org_id,
            "client_id": client_id,
            "data_category": str(data_category),
            "action": str(action),
            "resource_type": resource_type,
            "resource_id": resource_id,
            "purpose": str(purpose),
            "outcome": str(outcome),
            "reason": reason[:500],
            "request_id": meta.request_id,
            "ip": meta.ip,
            "user_agent": meta.user_agent,
            "detail": detail or {},
        }
    )
