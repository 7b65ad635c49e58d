"""The demo's portal client: one fictional client of the demo therapist can sign in."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import RoleGrant, User, hash_token_secret
from iptcare.clients.models import Episode
from iptcare.core.models import Organisation
from iptcare.measures.models import MeasureLink
from iptcare.portal.models import PortalAccount

PORTAL_EMAIL = "client@example.org"


def generate(*, org: Organisation, therapist: User, password_hash: str) -> User | None:
    episode = (
        Episode.objects.filter(organisation=org, primary_clinician=therapist, status="admitted")
        .select_related("client")
        .order_by("client__record_number")
        .first()
    )
    if episode is None:
        return None
    now = timezone.now()
    user = User.objects.create(
        email=PORTAL_EMAIL,
        full_name=episode.client.display_name,
        organisation=org,
        password=password_hash,
    )
    RoleGrant.objects.create(user=user, role=Role.CLIENT)
    PortalAccount.objects.create(
        user=user, client=episode.client, invited_by=therapist, invited_at=now
    )
    # A questionnaire the care team asked for, waiting on the client's page.
    MeasureLink.objects.create(
        organisation=org,
        client=episode.client,
        episode=episode,
        instrument="phq-9",
        secret_hash=hash_token_secret(secrets.token_urlsafe(32)),
        issued_by=therapist,
        expires_at=now + timedelta(days=14),
    )
    return user
