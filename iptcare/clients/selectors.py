"""Reads of client data. Each one asks the access policy and leaves an audit event."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from iptcare.access.policy import authorize, decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.errors import NotFound
from iptcare.core.models import Program


def client_get(*, actor: User, public_id: UUID, purpose: Purpose = Purpose.TREATMENT) -> Client:
    client = (
        Client.objects.select_related("organisation", "program").filter(public_id=public_id).first()
    )
    if client is None:
        raise NotFound("No such client.")
    authorize(actor, Action.VIEW, client, DataCategory.DEMOGRAPHICS, purpose)
    return client


def client_list(
    *, actor: User, program: Program, purpose: Purpose = Purpose.TREATMENT
) -> QuerySet[Client]:
    """The clients of one program, if the actor may list them (one audit event for the list)."""
    authorize(actor, Action.LIST, program, DataCategory.DEMOGRAPHICS, purpose)
    return Client.objects.filter(program=program).select_related("program")


def programs_visible(*, actor: User) -> list[Program]:
    """Programs whose client list the actor may open (no audit: no client data is read)."""
    if actor.organisation_id is None:
        return []
    programs = Program.objects.filter(organisation_id=actor.organisation_id, is_active=True)
    return [
        p
        for p in programs.select_related("organisation")
        if decide(actor, Action.LIST, p, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    ]
