from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from iptcare.accounts.models import User


class EmailBackend(ModelBackend):
    """ModelBackend with login by email, matched case-insensitively (see UserManager)."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        # With the organisation, which every audited request needs.
        user = User.objects.select_related("organisation").filter(pk=pk).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        user.role_set  # noqa: B018 - read now, as the prefetch did: every request needs them
        return user


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """Lock out by the normalised email so that case changes do not reset the failure count."""
    value = ""
    if credentials:
        value = credentials.get("username") or credentials.get("email") or ""
    elif request is not None:
        value = request.POST.get("username", "")
    return str(value).strip().lower()
