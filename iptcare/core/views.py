from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.selectors import programs_visible


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with a JSON body when the database answers; 503 otherwise. No data, no auth."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.portal_client_public_id is not None:
        return redirect("portal:home")  # a client's home is their portal page
    org = user.organisation
    can = {}
    if org is not None:
        can = {
            "staff": decide(
                user, Action.LIST, org, DataCategory.STAFF_ACCOUNTS, Purpose.ADMINISTRATION
            ).allowed,
            "audit": decide(
                user, Action.LIST, org, DataCategory.AUDIT_TRAIL, Purpose.AUDIT
            ).allowed,
        }
    settings_programs = (
        list(org.programs.filter(is_active=True))
        if org is not None
        and decide(user, Action.UPDATE, org, DataCategory.ORGANISATION, Purpose.ADMINISTRATION)
        else []
    )
    return render(
        request,
        "core/home.html",
        {
            "programs": programs_visible(actor=user),
            "can": can,
            "organisation": org,
            "settings_programs": settings_programs,
        },
    )
