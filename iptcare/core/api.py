from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema

from iptcare.core.errors import NotFound
from iptcare.core.models import Program

router = Router(tags=["organisation"])


class ProgramOut(Schema):
    id: UUID
    name: str
    code: str
    is_active: bool


@router.get("/programs", response=list[ProgramOut], summary="Programs of my organisation")
def programs(request: HttpRequest) -> list[ProgramOut]:
    """Program names are not clinical data: every member of the organisation may list them."""
    org = getattr(request.user, "organisation", None)
    if org is None:
        raise NotFound("No organisation.")
    return [
        ProgramOut(id=p.public_id, name=p.name, code=p.code, is_active=p.is_active)
        for p in Program.objects.filter(organisation=org)
    ]
