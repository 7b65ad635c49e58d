"""Reading the audit trail (for administrators, through the access policy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet

from iptcare.audit.models import AuditEvent

# Columns the report may sort by: every column it shows. "chain" is the event's place in the
# trail, chain:seq (ADR 0014): by chain, then seq within it.
SORTABLE = (
    "chain",
    "occurred_at",
    "actor_email",
    "actor_role",
    "client_id",
    "data_category",
    "action",
    "resource_type",
    "purpose",
    "outcome",
    "ip",
)


@dataclass(frozen=True)
class AuditFilter:
    organisation_id: UUID
    since: datetime | None = None
    until: datetime | None = None
    actor_email: str = ""
    client_id: UUID | None = None
    action: str = ""
    sort: str = "-occurred_at"


def audit_events(f: AuditFilter) -> QuerySet[AuditEvent]:
    """Events of one organisation, filtered and sorted. The caller has already authorised."""
    qs = AuditEvent.objects.filter(organisation_id=f.organisation_id)
    if f.since is not None:
        qs = qs.filter(occurred_at__gte=f.since)
    if f.until is not None:
        qs = qs.filter(occurred_at__lt=f.until)
    if f.actor_email:
        qs = qs.filter(actor_email__iexact=f.actor_email.strip())
    if f.client_id is not None:
        qs = qs.filter(client_id=f.client_id)
    if f.action:
        qs = qs.filter(action=f.action)
    field = f.sort.lstrip("-")
    if field not in SORTABLE:
        field, desc = "occurred_at", True
    else:
        desc = f.sort.startswith("-")
    # The id breaks ties so that pages are stable (seq counts within a chain, ADR 0014).
    keys = ("chain", "seq") if field == "chain" else (field, "id")
    return qs.order_by(*(f"-{key}" if desc else key for key in keys))
