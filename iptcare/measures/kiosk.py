"""Kiosk mode: a clinician hands a shared tablet to a client in session to fill in one
questionnaire.

The page shows the questionnaire and the client's first name only — no chart, no navigation, no
other record. After the client submits (``services.administer(mode="kiosk")``: scored, stored,
alerts raised, audited), the tablet shows a neutral "please hand the tablet back" page and stays
on it until the clinician re-enters their password; only then are the result and the client's
measures shown. The hand-back state lives in the clinician's session, so reloading, going back
or opening another kiosk URL shows the same page, and ``middleware.KioskLockMiddleware`` sends
every other page and API call of that session here (or refuses it) until the unlock.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from iptcare.access.vocabulary import Action, DataCategory
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.clients.selectors import client_get
from iptcare.measures import engine, selectors, services
from iptcare.measures.forms import QuestionnaireForm
from iptcare.measures.models import Mode

HANDBACK = "measures_kiosk_handback"


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def first_name(client: Client) -> str:
    return client.preferred_name or client.legal_given_name


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def kiosk_page(request: HttpRequest, client_id: UUID, code: str) -> HttpResponse:
    actor = _actor(request)
    client = client_get(
        actor=actor,
        public_id=client_id,
        category=DataCategory.CLINICAL_RECORD,
        action=Action.CREATE,
    )
    instrument = engine.get(code)
    handback = request.session.get(HANDBACK)
    if handback is not None:
        return _handback(request, actor, handback)
    form = QuestionnaireForm(request.POST or None, instrument=instrument)
    if request.method == "POST" and form.is_valid():
        try:
            administration = services.administer(
                actor=actor,
                client=client,
                instrument_code=instrument.code,
                answers=form.answers(),
                mode=Mode.KIOSK,
            )
        except engine.InvalidAnswers as exc:
            form.add_answer_errors(exc.errors)
        else:
            request.session[HANDBACK] = {
                "client": str(client.public_id),
                "code": instrument.code,  # where KioskLockMiddleware sends every other page
                "administration": str(administration.public_id),
            }
            # Post/redirect/get: a reload shows the hand-back page, never a second submit.
            return redirect("measures:kiosk", client_id=client.public_id, code=instrument.code)
    return render(
        request,
        "measures/kiosk.html",
        {"first_name": first_name(client), "instrument": instrument, "form": form},
        status=400 if form.errors else 200,
    )


def _handback(request: HttpRequest, actor: User, handback: dict[str, str]) -> HttpResponse:
    """The neutral page after a submit; the clinician's password unlocks it (django-axes counts
    the failures, as at login)."""
    error = ""
    if request.method == "POST" and request.POST.get("step") == "continue":
        password = request.POST.get("password", "")
        user = authenticate(request, username=actor.email, password=password)
        if user is not None and user.pk == actor.pk:
            del request.session[HANDBACK]
            administration = selectors.administration_get(
                actor=actor, public_id=UUID(handback["administration"])
            )
            text = f"Kiosk: {administration.instrument.upper()} saved"
            if administration.total is not None:
                text += f": {administration.total:g} ({administration.band_label})"
            else:
                text += ": incomplete, no total"
            messages.success(request, text + ".")
            if any(f.get("severity") == "safety" for f in administration.flags):
                messages.warning(request, "Safety alert raised: assess risk now.")
            return redirect("measures:client", client_id=handback["client"])
        error = "That password is not right. Please hand the tablet back to your clinician."
    return render(
        request,
        "measures/kiosk_done.html",
        {"error": error},
        status=400 if error else 200,
    )
