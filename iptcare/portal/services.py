"""Inviting a client to the portal, and what a client does there.

The client's account is a ``User`` holding the client role (the role table: their own record
only, for the "self" purpose; MFA offered, not required) tied to one client by a
``PortalAccount``. No email ever carries clinical content: not the program's name, not an
instrument, not a diagnosis — an invitation to an SUD program is itself protected (42 CFR 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from iptcare.access.policy import writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role
from iptcare.accounts.models import RoleGrant, User
from iptcare.clients.models import Client
from iptcare.core.errors import InvalidInput, NotFound
from iptcare.core.mail import Delivery, send_after_commit
from iptcare.measures.models import Administration, MeasureLink, Mode
from iptcare.measures.services import administration_submit
from iptcare.portal.models import PortalAccount
from iptcare.portal.tokens import invitation_tokens


def _email_problem(email: str) -> str | None:
    try:
        validate_email(email)
    except ValidationError:
        return "Enter a valid email address."
    if User.objects.filter(email__iexact=email).exists():
        return "This email already has an account."
    return None


@dataclass(frozen=True)
class Invitation:
    user: User
    # The invitation email: a failed one is resent with ``portal_invite_again``.
    email: Delivery


def portal_invite(*, actor: User, client: Client, email: str, request: HttpRequest) -> Invitation:
    """Create the client's portal account and email a link to choose a password, once the
    account is committed (``Invitation.email`` says whether that worked)."""
    email = email.strip().lower()
    with writing(
        actor, Action.UPDATE, client, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT,
        detail={"portal": "invite"},
    ) as grant:  # fmt: skip
        errors: dict[str, list[str]] = {}
        if PortalAccount.objects.filter(client=client).exists():
            errors["email"] = ["This client already has a portal account."]
        elif problem := _email_problem(email):
            errors["email"] = [problem]
        if errors:
            raise InvalidInput("The invitation was not sent.", field_errors=errors)
        try:
            user = User.objects.create_user(
                email, None, full_name=client.display_name, organisation=client.organisation
            )
            RoleGrant.objects.create(user=user, role=Role.CLIENT)
            PortalAccount.objects.create(
                user=user, client=client, invited_by=actor, invited_at=timezone.now()
            )
        except IntegrityError as exc:  # a concurrent invitation with the same email or client
            raise InvalidInput(
                "The invitation was not sent.",
                field_errors={"email": ["This email or client already has an account."]},
            ) from exc
        grant.record_as(action=Action.PRIVILEGE_CHANGE)
        grant.detail.update(
            {
                "user": str(user.public_id),
                "subject": email,
                "before": None,
                "after": {"roles": [str(Role.CLIENT)]},
            }
        )
        delivery = _send_invitation(user=user, request=request)
    return Invitation(user=user, email=delivery)


def portal_invite_again(*, actor: User, client: Client, request: HttpRequest) -> Delivery:
    """Email a new invitation to a client who has not chosen a password yet: the first email
    failed, never arrived or expired. The token is derived from the account's state, so nothing
    is stored and an earlier link stays valid until it expires or a password is set."""
    with writing(
        actor, Action.UPDATE, client, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT,
        detail={"portal": "invite again"},
    ) as grant:  # fmt: skip
        account = PortalAccount.objects.select_related("user").filter(client=client).first()
        if account is None:
            raise InvalidInput("This client has no portal account yet: invite them first.")
        if not account.user.is_active:
            raise InvalidInput("This client's portal account is deactivated.")
        if account.user.has_usable_password():
            raise InvalidInput("This client has already set up their portal account.")
        grant.detail["user"] = str(account.user.public_id)
        delivery = _send_invitation(user=account.user, request=request)
    return delivery


def _send_invitation(*, user: User, request: HttpRequest) -> Delivery:
    path = reverse(
        "portal:welcome",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invitation_tokens.make_token(user),
        },
    )
    body = render_to_string(
        "portal/email/invite.txt",
        {"url": request.build_absolute_uri(path), "days": settings.IPTCARE_PORTAL_INVITE_DAYS},
    )
    return send_after_commit(to=user.email, subject="Your account is ready to set up", body=body)


def account_of(actor: User) -> PortalAccount:
    account = (
        PortalAccount.objects.select_related("client__organisation", "client__program")
        .filter(user=actor)
        .first()
    )
    if account is None:
        raise NotFound("No portal account.")
    return account


def requested_link(*, actor: User, link_id: UUID) -> MeasureLink:
    """A questionnaire the care team asked this client for, still open."""
    account = account_of(actor)
    link = MeasureLink.objects.filter(
        public_id=link_id,
        client=account.client,
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).first()
    if link is None:
        raise NotFound("This questionnaire is no longer open.")
    link.client = account.client
    return link


def portal_submit(*, actor: User, link_id: UUID, answers: Mapping[str, Any]) -> Administration:
    """The client completes a requested questionnaire in the portal (one transaction)."""
    link = requested_link(actor=actor, link_id=link_id)
    return administration_submit(
        actor=actor,
        client=link.client,
        instrument_code=link.instrument,
        answers=answers,
        mode=Mode.PORTAL,
        purpose=Purpose.SELF,
        link=link,
    )


def due_instruments(client: Client) -> list[str]:
    """Instruments the client's measure schedule says are due or overdue now (their current
    open episode; ``measures.schedules``)."""
    from iptcare.measures.selectors import measures_status_for_clients

    status = measures_status_for_clients(client_ids=[client.pk])[client.pk]
    return [d.instrument for d in status.due if d.state in ("due", "overdue")]


def portal_submit_due(
    *, actor: User, instrument_code: str, answers: Mapping[str, Any]
) -> Administration:
    """The client completes a questionnaire their schedule says is due (one transaction)."""
    client = account_of(actor).client
    if instrument_code not in due_instruments(client):
        raise NotFound("This questionnaire is not due.")
    return administration_submit(
        actor=actor,
        client=client,
        instrument_code=instrument_code,
        answers=answers,
        mode=Mode.PORTAL,
        purpose=Purpose.SELF,
    )
