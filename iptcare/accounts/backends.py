from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import User


class EmailBackend(ModelBackend):
    """ModelBackend with login by email, matched case-insensitively (see UserManager)."""

    def get_user(self, user_id: Any) -> User | None:
        # The organisation is needed on every audited request: load it with the user.
        user = (
            User.objects.select_related("organisation")
            .prefetch_related("role_grants")
            .filter(pk=user_id)
            .first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        user._role_cache = frozenset(Role(g.role) for g in user.role_grants.all())
        return user


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """Lock out by the normalised email so that case changes do not reset the failure count."""
    value = ""
    if credentials:
        value = credentials.get("username") or credentials.get("email") or ""
    elif request is not None:
        value = request.POST.get("username", "")
    return str(value).strip().lower()
