"""A client's portal account: a sign-in (``User`` with the client role) tied to one client."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from iptcare.clients.models import Client
from iptcare.core.models import PublicIdModel


class PortalAccount(PublicIdModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="portal_account"
    )
    client = models.OneToOneField(Client, on_delete=models.PROTECT, related_name="portal_account")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    invited_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"portal account of client {self.client_id}"
