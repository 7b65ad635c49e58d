"""Every write to clients, episodes of care, intake assessments and diagnoses.

Shape (STYLE.md): keyword-only, ``actor`` required. The access decision is taken (and audited)
before the write transaction, so that a refusal's audit event survives; the change itself, its
history row and its SUCCESS audit event commit together in one ``transaction.atomic``. Bad input
raises a ``DomainError`` with field errors and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.forms.models import model_to_dict

from iptcare.access.scope import ResourceScope
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.models import Outcome
from iptcare.audit.services import record
from iptcare.clients.models import (
    Client,
    RecordRevision,
)
from iptcare.core.errors import Conflict, InvalidInput

M = TypeVar("M", bound=models.Model)

# --- shared helpers ----------------------------------------------------------------------------


def full_clean_or_raise(instance: models.Model, *, exclude: Iterable[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        errors = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        first = next(iter(errors.values()), ["Invalid input."])[0]
        raise InvalidInput(f"Please correct the errors: {first}", field_errors=errors) from exc


def audit_success(
    *,
    actor: User,
    action: Action,
    scope: ResourceScope,
    reason: str,
    detail: dict[str, Any] | None = None,
    category: DataCategory = DataCategory.CLINICAL_RECORD,
) -> None:
    record(
        actor=actor,
        action=action,
        data_category=category,
        outcome=Outcome.SUCCESS,
        organisation_id=scope.organisation_public_id,
        client_id=scope.client_id,
        resource_type=scope.resource_type,
        resource_id=scope.resource_id,
        purpose=Purpose.TREATMENT,
        reason=reason,
        detail=detail,
    )


def snapshot(*, actor: User, instance: Any, client: Client) -> None:
    """Keep the row as it was before this change (the record's history)."""
    data = model_to_dict(instance)
    RecordRevision.objects.create(
        organisation_id=client.organisation_id,
        client=client,
        resource_type=instance._meta.model_name,
        resource_id=instance.public_id,
        version=instance.version,
        snapshot=data,
        changed_by=actor,
    )


def lock_version(model: type[M], pk: int, version: int, what: str) -> M:
    locked = model._default_manager.select_for_update().get(pk=pk)
    if locked.version != version:  # type: ignore[attr-defined]
        raise Conflict(
            f"Someone else changed this {what} since you opened it. Reload to see their change."
        )
    return locked
