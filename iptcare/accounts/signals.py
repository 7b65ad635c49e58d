"""Authentication events into the audit trail: logins, logouts, failures, lockouts."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from iptcare.access.vocabulary import Action, DataCategory
from iptcare.accounts.backends import axes_username
from iptcare.accounts.models import User
from iptcare.audit.models import Outcome
from iptcare.audit.services import record

SESSION_LOGIN_AT = "iptcare_login_at"
SESSION_LAST_SEEN = "iptcare_last_seen"


def _roles(user: User) -> str:
    return ",".join(sorted(user.role_grants.values_list("role", flat=True)))


@receiver(user_logged_in)
def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[SESSION_LOGIN_AT] = now
        request.session[SESSION_LAST_SEEN] = now
    record(
        actor=user,
        actor_role=_roles(user),
        action=Action.LOGIN,
        data_category=DataCategory.AUTHENTICATION,
        outcome=Outcome.SUCCESS,
        resource_type="user",
        resource_id=str(user.public_id),
        reason="password accepted",
    )


@receiver(user_logged_out)
def on_logged_out(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    if user is None:
        return
    reason = getattr(request, "iptcare_logout_reason", "user logged out")
    record(
        actor=user,
        actor_role=_roles(user),
        action=Action.LOGOUT if reason == "user logged out" else Action.SESSION_EXPIRED,
        data_category=DataCategory.AUTHENTICATION,
        outcome=Outcome.SUCCESS,
        resource_type="user",
        resource_id=str(user.public_id),
        reason=reason,
    )


@receiver(user_login_failed)
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    email = axes_username(request, credentials)
    user = User.objects.filter(email__iexact=email).select_related("organisation").first()
    record(
        actor=user,
        actor_email=email[:254],
        action=Action.LOGIN_FAILED,
        data_category=DataCategory.AUTHENTICATION,
        outcome=Outcome.FAILURE,
        resource_type="user",
        resource_id=str(user.public_id) if user else "",
        reason="wrong email or password" if user else "unknown email",
    )


@receiver(user_locked_out)
def on_locked_out(
    sender: Any,
    request: HttpRequest | None,
    username: str | None,
    ip_address: str | None,
    **kwargs: Any,
) -> None:
    email = (username or "").strip().lower()
    user = User.objects.filter(email__iexact=email).select_related("organisation").first()
    record(
        actor=user,
        actor_email=email[:254],
        action=Action.LOCKOUT,
        data_category=DataCategory.AUTHENTICATION,
        outcome=Outcome.FAILURE,
        resource_type="user",
        resource_id=str(user.public_id) if user else "",
        reason="too many failed logins; locked out",
    )
