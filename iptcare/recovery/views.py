"""Pages: a client's Recovery page (abstinence, screens, the days-of-use calendar, returns to
use) and one screen's page.

Views parse input and render; reads go through selectors, writes through services, both of which
ask the access policy. A refused action re-renders the page with field errors (status 400/409).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.clients.selectors import client_get
from iptcare.core.errors import Conflict, DomainError
from iptcare.recovery import selectors, services
from iptcare.recovery.forms import DrugScreenForm, MarkExpectedForm, ReturnToUseForm, UseDaysForm
from iptcare.recovery.models import ScreenResultValue
from iptcare.recovery.substances import Substance
from iptcare.scheduling.forms import add_domain_errors


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _month_of(text: str) -> date | None:
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


def _days_of(month: selectors.TlfbMonth, today: date) -> list[date]:
    last = min(month.last, today)
    return [month.first + timedelta(days=i) for i in range((last - month.first).days + 1)]


def _substance_of(text: str, month: selectors.TlfbMonth) -> str:
    if text in Substance.values:
        return text
    return month.substances[0] if month.substances else Substance.ALCOHOL


def _handle(form: forms.Form, exc: DomainError) -> int:
    """A service's refusal on the form; the status the page answers with."""
    if exc.status in {403, 404}:
        raise exc
    if isinstance(exc, Conflict):
        form.add_error(None, exc.message)
        return 409
    add_domain_errors(form, exc)
    return 400


def _page(
    request: HttpRequest,
    client: Client,
    *,
    month_text: str = "",
    substance_text: str = "",
    screen_form: DrugScreenForm | None = None,
    days_form: UseDaysForm | None = None,
    report_form: ReturnToUseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    today = timezone.localdate()
    errors: list[str] = []
    first = _month_of(month_text) if month_text else today.replace(day=1)
    if first is None:
        errors.append("Give the month as YYYY-MM.")
        first = today.replace(day=1)
    overview = selectors.recovery_overview(
        actor=actor, client=client, year=first.year, month=first.month, today=today
    )
    substance = _substance_of(substance_text, overview.month)
    recorded = {r.date: r for r in overview.month.rows if r.substance == substance}
    days_form = days_form or UseDaysForm(
        days=_days_of(overview.month, today),
        recorded=recorded,
        initial={"substance": substance, "month": f"{first:%Y-%m}"},
    )
    return render(
        request,
        "recovery/client_recovery.html",
        {
            "client": client,
            "overview": overview,
            "substance": substance,
            "substance_label": Substance(substance).label,
            "substances": Substance.choices,
            "screen_form": screen_form or DrugScreenForm(),
            "days_form": days_form,
            "report_form": report_form or ReturnToUseForm(initial={"date": today}),
            "errors": errors,
            "future_month": first > today,
        },
        status=400 if errors and status == 200 else status,
    )


@login_required
def client_recovery(request: HttpRequest, client_id: UUID) -> HttpResponse:
    client = client_get(actor=_actor(request), public_id=client_id)
    return _page(
        request,
        client,
        month_text=request.GET.get("month", ""),
        substance_text=request.GET.get("substance", ""),
    )


def _back(client: Client, **query: str) -> str:
    url = reverse("recovery:client", kwargs={"client_id": client.public_id})
    params = "&".join(f"{k}={v}" for k, v in query.items() if v)
    return f"{url}?{params}" if params else url


@login_required
@require_POST
def screen_new(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    form = DrugScreenForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            screen = services.screen_record(
                actor=actor,
                client=client,
                collected_at=data["collected_at"],
                specimen=data["specimen"],
                results=form.results(),
                notes=data["notes"],
            )
        except DomainError as exc:
            status = _handle(form, exc)
        else:
            messages.success(
                request, f"Screen of {timezone.localtime(screen.collected_at):%Y-%m-%d} recorded."
            )
            return redirect(_back(client))
    return _page(request, client, screen_form=form, status=status)


@login_required
@require_POST
def use_days(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    today = timezone.localdate()
    month_text = request.POST.get("month", "")
    first = _month_of(month_text) or today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((min(last, today) - first).days + 1)]
    form = UseDaysForm(request.POST, days=days, recorded={})
    status = 400
    substance = request.POST.get("substance", "")
    if form.is_valid():
        entries = form.entries()
        if not entries:
            form.add_error(None, "Mark at least one day as used or not used.")
        else:
            try:
                outcome = services.use_days_record(
                    actor=actor,
                    client=client,
                    start=first,
                    end=max(first, min(last, today)),
                    days=entries,
                    source=form.cleaned_data["source"],
                )
            except DomainError as exc:
                status = _handle(form, exc)
            else:
                messages.success(
                    request,
                    f"Days of use saved: {len(outcome.created)} new, "
                    f"{len(outcome.changed)} changed.",
                )
                for event in outcome.events_created:
                    messages.warning(
                        request,
                        f"Return to use on {event.date:%Y-%m-%d} after "
                        f"{event.after_abstinent_days} abstinent days."
                        + (" Overdose risk: offer naloxone." if event.overdose_risk else ""),
                    )
                return redirect(_back(client, month=f"{first:%Y-%m}", substance=substance))
    return _page(
        request,
        client,
        month_text=f"{first:%Y-%m}",
        substance_text=substance,
        days_form=form,
        status=status,
    )


@login_required
@require_POST
def return_report(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    form = ReturnToUseForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            event = services.return_to_use_report(
                actor=actor,
                client=client,
                day=data["date"],
                substance=data["substance"],
                note=data["note"],
                after_abstinent_days=data["after_abstinent_days"],
            )
        except DomainError as exc:
            status = _handle(form, exc)
        else:
            messages.success(request, "Return to use recorded.")
            if event.overdose_risk:
                messages.warning(request, "Overdose risk: offer naloxone.")
            return redirect(_back(client))
    return _page(request, client, report_form=form, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def screen_detail(request: HttpRequest, screen_id: UUID) -> HttpResponse:
    actor = _actor(request)
    screen = selectors.screen_get(actor=actor, public_id=screen_id)
    results = list(screen.results.all())
    positives = [
        (r.analyte, r.get_analyte_display())
        for r in results
        if r.result == ScreenResultValue.POSITIVE and not r.expected
    ]
    form = MarkExpectedForm(
        request.POST or None, positives=positives, initial={"version": screen.version}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.screen_mark_expected(
                    actor=actor,
                    screen=screen,
                    version=form.cleaned_data["version"],
                    analytes=form.cleaned_data["analytes"],
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as exc:
                status = _handle(form, exc)
            else:
                messages.success(request, "Results marked expected.")
                return redirect("recovery:screen", screen_id=screen.public_id)
    context: dict[str, Any] = {
        "screen": screen,
        "client": screen.client,
        "results": results,
        "form": form if positives else None,
    }
    return render(request, "recovery/screen_detail.html", context, status=status)
