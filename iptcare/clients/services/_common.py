"""What the writes to clients, episodes of care, intake assessments and diagnoses share: the
model validation that becomes field errors, the history row of a change, the optimistic lock.
(Each write's access decision and its one audit event are ``access.policy.writing``'s.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.forms.models import model_to_dict

from iptcare.accounts.models import User
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
