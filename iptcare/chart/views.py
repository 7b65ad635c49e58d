from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from iptcare.accounts.models import User
from iptcare.chart.selectors import caseload, client_chart


@login_required
@require_GET
def caseload_page(request: HttpRequest) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    return render(request, "chart/caseload.html", {"rows": caseload(actor=actor)})


@login_required
@require_GET
def chart_page(request: HttpRequest, client_id: UUID) -> HttpResponse:
    """The client chart (served at clients:summary): record, episodes, diagnoses, timeline."""
    actor: User = request.user  # type: ignore[assignment]
    chart = client_chart(actor=actor, client_id=client_id)
    return render(
        request,
        "chart/chart.html",
        {"client": chart.client, "chart": chart.clinical, "timeline": chart.timeline},
    )
