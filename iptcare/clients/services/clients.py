"""Writes to clients: registration (record number, duplicate check) and edits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from iptcare.access.policy import decide, writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.errors import DuplicateClientWarning
from iptcare.clients.models import (
    Client,
)
from iptcare.clients.services._common import (
    full_clean_or_raise,
    lock_version,
    snapshot,
)
from iptcare.core.errors import InvalidInput
from iptcare.core.models import Organisation, Program

# --- clients -----------------------------------------------------------------------------------

CLIENT_FIELDS: tuple[str, ...] = (
    "record_number",
    "legal_given_name",
    "legal_family_name",
    "preferred_name",
    "pronouns",
    "date_of_birth",
    "sex_assigned_at_birth",
    "gender_identity",
    "preferred_language",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "emergency_contact_phone",
)
RECORD_NUMBER_RE = re.compile(r"^C-\d{6,}$")
_RECORD_NUMBER_RETRIES = 5


def _client_data(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(CLIENT_FIELDS))
    if unknown:
        raise InvalidInput(
            "Unknown client fields.", field_errors={k: ["Not a client field."] for k in unknown}
        )
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        cleaned[key] = value.strip() if isinstance(value, str) else value
        if cleaned[key] is None and key != "date_of_birth":
            cleaned[key] = ""
    return cleaned


def next_record_number(organisation_id: int) -> str:
    """``C-000123``: one more than the highest generated number of the organisation."""
    numbers = Client.objects.filter(
        organisation_id=organisation_id, record_number__regex=r"^C-[0-9]{6,}$"
    ).values_list("record_number", flat=True)
    # Compare numerically (C-1000000 sorts before C-999999 as text); the regex keeps this small.
    highest = max((int(n[2:]) for n in numbers), default=0)
    return f"C-{highest + 1:06d}"


def _check_record_number_free(client: Client) -> None:
    taken = (
        Client.objects.filter(
            organisation_id=client.organisation_id, record_number__iexact=client.record_number
        )
        .exclude(pk=client.pk)
        .exists()
    )
    if taken:
        raise InvalidInput(
            "This record number is already in use.",
            field_errors={"record_number": ["This record number is already in use."]},
        )


def _duplicates(*, actor: User, client: Client) -> tuple[list[Client], int]:
    matches = list(
        Client.objects.filter(
            organisation_id=client.organisation_id,
            date_of_birth=client.date_of_birth,
            legal_given_name__iexact=client.legal_given_name,
            legal_family_name__iexact=client.legal_family_name,
        )
        .exclude(pk=client.pk)
        .select_related("program", "organisation")
    )
    if not matches:
        return [], 0
    visible_programs = {
        p.pk
        for p in {m.program for m in matches}
        if decide(actor, Action.VIEW, p, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    }
    visible = [m for m in matches if m.program_id in visible_programs]
    return visible, len(matches) - len(visible)


def client_create(
    *,
    actor: User,
    program: Program,
    data: Mapping[str, Any],
    confirm_duplicate: bool = False,
) -> Client:
    """Register a client in ``program``. Same legal name and date of birth as an existing client
    of the organisation → ``DuplicateClientWarning`` unless ``confirm_duplicate``.

    The decision is about the program (the client does not exist yet); the write's event names
    the client it registered."""
    with writing(
        actor,
        Action.CREATE,
        program,
        DataCategory.DEMOGRAPHICS,
        Purpose.TREATMENT,
        detail={"confirmed_duplicate": confirm_duplicate},
    ) as grant:
        values = _client_data(data)
        given_number = bool(values.get("record_number"))
        client = Client(organisation_id=program.organisation_id, program=program, **values)
        client.organisation = program.organisation
        if given_number:
            _check_record_number_free(client)
        else:
            client.record_number = "C-000000"  # placeholder for validation; numbered under the lock
        # The (organisation, record_number) constraint is checked above and by the database.
        full_clean_or_raise(client, exclude=["organisation", "program"])
        # Serialise client registration per organisation: the duplicate check and the record
        # number must see every committed client (PostgreSQL row lock; SQLite transactions
        # already take the write lock at BEGIN).
        Organisation.objects.select_for_update().filter(pk=program.organisation_id).first()
        if not confirm_duplicate:
            visible, hidden = _duplicates(actor=actor, client=client)
            if visible or hidden:
                raise _duplicate_warning(visible, hidden)
        _save_numbered(client, given_number=given_number)
        grant.record_as(client)
        # The event is about the new client's record too (its client column), not only the
        # program the decision was about.
        grant.event["client_id"] = client.public_id
    return client


def _save_numbered(client: Client, *, given_number: bool) -> None:
    """Save the new ``client``, numbering it unless the number was given: a number taken in the
    meantime (the database's constraint) is retried with the next one, each attempt in a
    savepoint so that the write's transaction survives the refused insert."""
    for attempt in range(_RECORD_NUMBER_RETRIES):
        if not given_number:
            client.record_number = next_record_number(client.organisation_id)
        try:
            with transaction.atomic():
                client.save()
            return
        except IntegrityError as exc:
            client.pk = None
            if given_number or attempt == _RECORD_NUMBER_RETRIES - 1:
                raise InvalidInput(
                    "This record number is already in use.",
                    field_errors={"record_number": ["This record number is already in use."]},
                ) from exc


def _duplicate_warning(visible: list[Client], hidden: int) -> DuplicateClientWarning:
    matches = [
        {
            "id": str(m.public_id),
            "record_number": m.record_number,
            "display_name": m.display_name,
            "date_of_birth": m.date_of_birth.isoformat(),
            "program": m.program.name,
        }
        for m in visible
    ]
    message = "A client with the same legal name and date of birth is already registered."
    if hidden:
        message += f" {hidden} such record(s) are in programs you cannot see."
    message += " Check the match, or confirm to register a new client anyway."
    return DuplicateClientWarning(
        message,
        matches=matches,
        hidden_matches=hidden,
        field_errors={"confirm_duplicate": ["Possible duplicate: confirm to create anyway."]},
    )


def client_update(*, actor: User, client: Client, version: int, data: Mapping[str, Any]) -> Client:
    """Change a client's identity or contact fields. A stale ``version`` → ``Conflict``."""
    with writing(
        actor, Action.UPDATE, client, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    ) as grant:
        values = _client_data(data)
        if "record_number" in values and not values["record_number"]:
            values.pop("record_number")
        try:
            locked = lock_version(Client, client.pk, version, "client")
            locked.organisation = client.organisation
            snapshot(actor=actor, instance=locked, client=locked)
            changed = sorted(k for k, v in values.items() if getattr(locked, k) != v)
            for key, value in values.items():
                setattr(locked, key, value)
            if "record_number" in changed:
                _check_record_number_free(locked)
            full_clean_or_raise(locked, exclude=["organisation", "program"])
            locked.version += 1
            locked.save()
        except IntegrityError as exc:  # a concurrent change took the record number
            raise InvalidInput(
                "This record number is already in use.",
                field_errors={"record_number": ["This record number is already in use."]},
            ) from exc
        # The names of the fields changed, never their values.
        grant.detail.update({"fields": changed, "version": locked.version})
    return locked
