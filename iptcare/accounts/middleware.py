"""Session lifetime and the MFA requirement, enforced for every page and API call."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from iptcare.accounts.signals import SESSION_LAST_SEEN, SESSION_LOGIN_AT

Handler = Callable[[HttpRequest], HttpResponse]

# Paths a signed-in but not yet MFA-verified user may reach.
MFA_EXEMPT_PREFIXES = ("/account/mfa/", "/account/logout/", "/static/", "/healthz")


def _unauthorized(detail: str) -> JsonResponse:
    return JsonResponse(
        {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail},
        status=401,
        content_type="application/problem+json",
    )


class SessionLifetimeMiddleware:
    """End idle sessions (IPTCARE_IDLE_MINUTES) and old ones (IPTCARE_SESSION_HOURS)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        session = request.session
        now = timezone.now().timestamp()
        login_at = float(session.get(SESSION_LOGIN_AT, now))
        last_seen = float(session.get(SESSION_LAST_SEEN, login_at))
        if now - login_at > settings.IPTCARE_SESSION_HOURS * 3600:
            return self._end(request, "absolute session lifetime reached")
        if now - last_seen > settings.IPTCARE_IDLE_MINUTES * 60:
            return self._end(request, "idle timeout")
        if SESSION_LOGIN_AT not in session:
            session[SESSION_LOGIN_AT] = login_at
        if now - last_seen >= settings.IPTCARE_ACTIVITY_RESOLUTION_SECONDS:
            session[SESSION_LAST_SEEN] = now  # saved (and expiry slid) by SessionMiddleware
        return self.get_response(request)

    @staticmethod
    def _end(request: HttpRequest, reason: str) -> HttpResponse:
        request.iptcare_logout_reason = reason  # type: ignore[attr-defined]
        logout(request)
        if request.path.startswith("/api/"):
            return _unauthorized("Your session has ended; sign in again.")
        messages.info(request, "Your session has ended. Please sign in again.")
        return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.path}")


class MFARequiredMiddleware:
    """Staff must pass a TOTP check before anything else (IPTCARE_REQUIRE_MFA; ONC (d)(13))."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.IPTCARE_REQUIRE_MFA and self._needs_mfa(request):
            if request.path.startswith("/api/"):
                return _unauthorized("Multi-factor authentication is required for this session.")
            return redirect(f"{reverse('accounts:mfa')}?next={request.get_full_path()}")
        return self.get_response(request)

    @staticmethod
    def _needs_mfa(request: HttpRequest) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        if user.is_verified() or not user.mfa_required:
            return False
        return not request.path.startswith(MFA_EXEMPT_PREFIXES)
