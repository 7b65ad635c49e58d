"""What the access policy needs to know about a resource: where it lives."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class ResourceScope:
    organisation_id: int
    organisation_public_id: UUID
    program_id: int | None
    resource_type: str
    resource_id: str
    client_id: UUID | None = None
