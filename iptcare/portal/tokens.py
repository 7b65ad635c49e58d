"""The portal invitation link: Django's password-reset token, with its own salt (a reset link
cannot stand in for it, nor it for a reset link) and its own lifetime — a client may not read
their email within the hour a staff password reset allows (IPTCARE_PORTAL_INVITE_DAYS)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "iptcare.portal.tokens.InvitationTokenGenerator"

    def check_token(self, user: Any, token: str | None) -> bool:
        """As Django's check (the token is spent once the password is set, since the hash covers
        it), but against the invitation's lifetime."""
        if not (user and token):
            return False
        try:
            ts = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        secrets = [self.secret, *self.secret_fallbacks]
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, s), token)
            for s in secrets
        ):
            return False
        age = self._num_seconds(self._now()) - ts
        return bool(age <= settings.IPTCARE_PORTAL_INVITE_DAYS * 86400)


invitation_tokens = InvitationTokenGenerator()
