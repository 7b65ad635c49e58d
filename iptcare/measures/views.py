"""Pages: a client's measures with progress charts, in-session administration, single-use
links (issue, and the public page a client completes), and the alert inbox."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Episode
from iptcare.clients.selectors import client_get
from iptcare.core.errors import Conflict, DomainError, Forbidden, NotFound
from iptcare.measures import engine, schedule_services, selectors, services
from iptcare.measures.chart import BandArea, Point, progress_svg
from iptcare.measures.forms import (
    AlertActionForm,
    LinkForm,
    QuestionnaireForm,
    ScheduleForm,
    field_name,
    posted_answers,
)
from iptcare.measures.markers import ChartMarkers, chart_markers
from iptcare.measures.models import Administration

GET_POST = require_http_methods(["GET", "POST"])


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _chart(series: selectors.Series, markers: ChartMarkers) -> str:
    instrument = series.instrument
    total = instrument.total
    low, high = (total.min, total.max) if total else (0.0, 1.0)
    rule = instrument.reliable_change
    return progress_svg(
        title=f"{instrument.title} over time",
        points=[
            Point(a.completed_at.date(), a.total) for a in series.scored if a.total is not None
        ],
        low=low,
        high=high,
        bands=[BandArea(b.label, b.min, b.max) for b in instrument.bands],
        reliable_change=rule.points if rule else None,
        markers=markers.phases,
        sessions=markers.sessions,
        id_prefix=f"progress-{instrument.code}",
    )


@login_required
@require_GET
def measures_page(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    administrations = selectors.administrations_for_client(actor=actor, client=client)
    series = selectors.series_by_instrument(administrations)
    markers = chart_markers(client) if series else ChartMarkers()
    return render(
        request,
        "measures/client_measures.html",
        {
            "client": client,
            "series": [(s, _chart(s, markers)) for s in series],
            "administrations": list(reversed(administrations)),
            "instruments": sorted(engine.load_all().values(), key=lambda i: i.title),
            "alerts": selectors.client_alerts(client=client),
            "link_form": LinkForm(),
            # Whether to offer the portal invitation, or to send it again (not set up yet).
            "portal_user": User.objects.filter(portal_account__client=client).first(),
            "open_episodes": list(
                Episode.objects.filter(client=client, status__in=("referred", "admitted"))
                .select_related("program")
                .order_by("-referral_date")
            ),
        },
    )


@login_required
@GET_POST
def administer_page(request: HttpRequest, client_id: UUID, code: str) -> HttpResponse:
    actor = _actor(request)
    client = client_get(
        actor=actor,
        public_id=client_id,
        category=DataCategory.CLINICAL_RECORD,
        action=Action.CREATE,
    )
    instrument = engine.get(code)
    form = QuestionnaireForm(request.POST or None, instrument=instrument)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            administration = services.administer(
                actor=actor, client=client, instrument_code=code, answers=form.answers()
            )
        except engine.InvalidAnswers as exc:
            form.add_answer_errors(exc.errors)
            status = 400
        else:
            text = f"{instrument.title} saved"
            if administration.total is not None:
                text += f": {administration.total:g} ({administration.band_label})"
            else:
                text += ": incomplete, no total"
            messages.success(request, text + ".")
            if any(f.get("severity") == "safety" for f in administration.flags):
                messages.warning(request, "Safety alert raised: assess risk now.")
            return redirect("measures:client", client_id=client.public_id)
    return render(
        request,
        "measures/administer.html",
        {"client": client, "instrument": instrument, "form": form},
        status=400 if form.errors else status,
    )


@login_required
@require_POST
def link_issue_page(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(
        actor=actor,
        public_id=client_id,
        category=DataCategory.CLINICAL_RECORD,
        action=Action.CREATE,
    )
    form = LinkForm(request.POST)
    if form.is_valid():
        issued = services.link_issue(
            actor=actor,
            client=client,
            instrument_code=form.cleaned_data["instrument"],
            hours=form.cleaned_data["hours"],
            email=form.cleaned_data["email"] or "",
            base_url=request.build_absolute_uri("/"),
        )
        return render(
            request,
            "measures/link_issued.html",
            {
                "client": client,
                "issued": issued,
                "url": request.build_absolute_uri(issued.path),
                "instrument": engine.get(issued.link.instrument),
            },
        )
    return render(
        request, "measures/link_form.html", {"client": client, "link_form": form}, status=400
    )


def client_questionnaire(
    request: HttpRequest,
    instrument: engine.Instrument,
    submit: Callable[[dict[str, str]], Administration],
    template: str,
    *,
    base_template: str = "base.html",
) -> HttpResponse:
    """A questionnaire a client completes (link, portal): the form, then a thank-you page with
    crisis numbers when a safety item was endorsed. Bad answers re-show the form (400).
    ``base_template``: the layout of the thank-you page (the portal's is the signed-in one)."""
    if request.method == "POST":
        # The engine checks every answer against the instrument (each bad item named), so a
        # submit goes straight to it; the form is built only to show the page again.
        try:
            administration = submit(posted_answers(request.POST, instrument))
        except engine.InvalidAnswers as exc:
            form = QuestionnaireForm(request.POST, instrument=instrument)
            form.is_valid()
            form.add_answer_errors(
                {n: e for n, e in exc.errors.items() if field_name(n) not in form.errors}
            )
        else:
            safety = any(f.get("severity") == "safety" for f in administration.flags)
            return render(
                request,
                DONE_TEMPLATE,
                {"safety": safety, "base_template": base_template},
            )
    else:
        form = QuestionnaireForm(instrument=instrument)
    return render(
        request,
        template,
        {"instrument": instrument, "form": form},
        status=400 if form.errors else 200,
    )


# The layout of the pages a single-use link opens: whoever holds the link is shown no
# navigation and no staff name, signed in or not (templates/measures/public_base.html).
PUBLIC_BASE = "measures/public_base.html"
DONE_TEMPLATE = "measures/link_done.html"


@csrf_exempt
@never_cache
@GET_POST
def link_page(request: HttpRequest, secret: str) -> HttpResponse:
    """The page a client opens from a link: no sign-in, works once, then expires.

    Not CSRF-protected, and it sets no cookie: the secret in its address is the only credential
    it accepts — no session, no signed-in user — so a forged cross-site POST would need the
    secret, and whoever has that can submit directly. A CSRF token would add nothing but a
    cookie, and a client whose browser refuses cookies could not submit at all. The portal and
    kiosk questionnaires, which act on a session, keep Django's protection."""
    link = services.link_open(secret)
    return client_questionnaire(
        request,
        engine.get(link.instrument),
        lambda answers: services.link_submit(secret=secret, answers=answers, link=link),
        "measures/link_page.html",
        base_template=PUBLIC_BASE,
    )


@login_required
@require_GET
def alert_inbox_page(request: HttpRequest) -> HttpResponse:
    inbox = selectors.alert_inbox(actor=_actor(request))
    return render(request, "measures/alert_inbox.html", {"inbox": inbox})


@login_required
@GET_POST
def alert_page(request: HttpRequest, alert_id: UUID) -> HttpResponse:
    actor = _actor(request)
    alert = selectors.alert_get(actor=actor, public_id=alert_id)
    form = AlertActionForm(request.POST or None, initial={"version": alert.version})
    status = 200
    if request.method == "POST" and form.is_valid():
        step = request.POST.get("step")
        action = services.alert_resolve if step == "resolve" else services.alert_acknowledge
        try:
            action(
                actor=actor,
                alert=alert,
                version=form.cleaned_data["version"],
                note=form.cleaned_data["note"],
            )
        except (Forbidden, NotFound):
            raise
        except DomainError as exc:
            for field, errors in exc.field_errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            if not exc.field_errors:
                form.add_error(None, exc.message)
            status = exc.status if exc.status == 409 else 400
        else:
            messages.success(request, "Alert resolved." if step == "resolve" else "Acknowledged.")
            return redirect("measures:alert", alert_id=alert.public_id)
    return render(
        request,
        "measures/alert.html",
        {"alert": alert, "form": form},
        status=400 if status == 200 and form.errors else status,
    )


@login_required
@GET_POST
def schedule_page(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    """An episode's measure schedule: what is due now, the occasions per instrument (editable
    by those who may update the episode's clinical record), and the schedule's history."""
    actor = _actor(request)
    editing = request.method == "POST"
    schedule = selectors.episode_schedule(
        actor=actor, episode_id=episode_id, action=Action.UPDATE if editing else Action.VIEW
    )
    form = ScheduleForm(
        request.POST or None,
        rules=schedule.measures.rules,
        initial={"based_on": schedule.version},
    )
    status = 200
    if editing:
        if form.is_valid():
            try:
                schedule_services.schedule_set(
                    actor=actor,
                    episode=schedule.episode,
                    rows=form.rules(),
                    based_on=form.cleaned_data["based_on"],
                )
            except (Forbidden, NotFound):
                raise
            except DomainError as exc:
                form.add_service_errors(exc.field_errors)
                if not exc.field_errors:
                    form.add_error(None, exc.message)
                status = 409 if isinstance(exc, Conflict) else 400
            else:
                messages.success(request, "Measure schedule saved.")
                return redirect("measures:schedule", episode_id=episode_id)
        else:
            status = 400
    episode = schedule.episode
    return render(
        request,
        "measures/schedule.html",
        {
            "schedule": schedule,
            "episode": episode,
            "form": form,
            "due_rows": list(zip(schedule.measures.rules, schedule.measures.due, strict=True)),
            "can_edit": decide(
                actor, Action.UPDATE, episode, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
            ),
        },
        status=status,
    )
