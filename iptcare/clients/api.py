from __future__ import annotations

from datetime import date
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.clients.selectors import client_get, client_list
from iptcare.core.errors import NotFound
from iptcare.core.models import Program

router = Router(tags=["clients"])


class ClientOut(Schema):
    id: UUID
    record_number: str
    display_name: str
    legal_given_name: str
    legal_family_name: str
    date_of_birth: date
    program: UUID


def _out(c: Client) -> ClientOut:
    return ClientOut(
        id=c.public_id,
        record_number=c.record_number,
        display_name=c.display_name,
        legal_given_name=c.legal_given_name,
        legal_family_name=c.legal_family_name,
        date_of_birth=c.date_of_birth,
        program=c.program.public_id,
    )


@router.get(
    "/programs/{program_id}/clients", response=list[ClientOut], summary="Clients of a program"
)
def program_clients(request: HttpRequest, program_id: UUID) -> list[ClientOut]:
    user: User = request.user  # type: ignore[assignment]
    program = Program.objects.select_related("organisation").filter(public_id=program_id).first()
    if program is None or program.organisation_id != user.organisation_id:
        raise NotFound("No such program.")
    return [_out(c) for c in client_list(actor=user, program=program)]


@router.get("/clients/{client_id}", response=ClientOut, summary="One client")
def client_detail(request: HttpRequest, client_id: UUID) -> ClientOut:
    return _out(client_get(actor=request.user, public_id=client_id))  # type: ignore[arg-type]
