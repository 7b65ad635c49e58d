from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from iptcare.accounts.models import User
from iptcare.clients.selectors import client_get, client_list
from iptcare.core.errors import NotFound
from iptcare.core.models import Program


@login_required
def program_clients(request: HttpRequest, program_id: UUID) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    program = Program.objects.select_related("organisation").filter(public_id=program_id).first()
    if program is None or program.organisation_id != user.organisation_id:
        raise NotFound("No such program.")
    clients = client_list(actor=user, program=program)
    return render(request, "clients/program_clients.html", {"program": program, "clients": clients})


@login_required
def client_summary(request: HttpRequest, client_id: UUID) -> HttpResponse:
    client = client_get(actor=request.user, public_id=client_id)  # type: ignore[arg-type]
    return render(request, "clients/summary.html", {"client": client})
