"""The client portal (clients) and the invitation (staff)."""

from __future__ import annotations

from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from iptcare.accounts.models import User
from iptcare.clients.selectors import client_get
from iptcare.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from iptcare.core.mail import Delivery
from iptcare.measures import engine
from iptcare.measures.views import client_questionnaire
from iptcare.portal import selectors, services


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class InviteForm(forms.Form):
    email = forms.EmailField(
        help_text="The client's own email. The message says only that an account is ready to "
        "set up — no program name, nothing clinical."
    )


@login_required
@require_GET
def portal_home_page(request: HttpRequest) -> HttpResponse:
    home = selectors.portal_home(actor=_actor(request))
    return render(request, "portal/home.html", {"home": home})


@login_required
@require_http_methods(["GET", "POST"])
def portal_questionnaire_page(request: HttpRequest, link_id: UUID) -> HttpResponse:
    actor = _actor(request)
    link = services.requested_link(actor=actor, link_id=link_id)
    return client_questionnaire(
        request,
        engine.get(link.instrument),
        lambda answers: services.portal_submit(actor=actor, link_id=link_id, answers=answers),
        "portal/questionnaire.html",
    )


@login_required
@require_http_methods(["GET", "POST"])
def portal_due_page(request: HttpRequest, code: str) -> HttpResponse:
    """A questionnaire the client's measure schedule says is due."""
    actor = _actor(request)
    if code not in services.due_instruments(services.account_of(actor).client):
        raise NotFound("This questionnaire is not due.")
    return client_questionnaire(
        request,
        engine.get(code),
        lambda answers: services.portal_submit_due(
            actor=actor, instrument_code=code, answers=answers
        ),
        "portal/questionnaire.html",
    )


@login_required
@require_POST
def portal_invite_page(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.portal_invite(
                actor=actor, client=client, email=form.cleaned_data["email"], request=request
            )
        except (Forbidden, NotFound):
            raise
        except DomainError as exc:
            for field, errors in exc.field_errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            _say_invitation(request, invitation.email, created=True)
            return redirect("measures:client", client_id=client.public_id)
    return render(request, "portal/invite.html", {"client": client, "form": form}, status=400)


@login_required
@require_POST
def portal_invite_again_page(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    try:
        delivery = services.portal_invite_again(actor=actor, client=client, request=request)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        _say_invitation(request, delivery, created=False)
    return redirect("measures:client", client_id=client.public_id)


def _say_invitation(request: HttpRequest, delivery: Delivery, *, created: bool) -> None:
    """The invitation's outcome, on the client's measures page (which has the button that
    sends it again while the client has not set up their account)."""
    done = "The portal account was created. " if created else ""
    if delivery.sent:
        messages.success(request, f"{done}Invitation sent to {delivery.to}.")
    elif delivery.failed:
        messages.warning(
            request,
            f"{done}The invitation email to {delivery.to} could not be sent. Check the address, "
            "then use “Send the invitation again” under Client portal once mail works.",
        )
    else:
        messages.info(request, f"{done}{delivery.message}")
