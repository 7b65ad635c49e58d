"""Session lifetime and the MFA requirement, enforced for every page."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from iptcare.accounts.signals import SESSION_LOGIN_AT

Handler = Callable[[HttpRequest], HttpResponse]

# Paths a signed-in but not yet MFA-verified user may reach.
MFA_EXEMPT_PREFIXES = ("/account/mfa/", "/account/logout/", "/static/", "/healthz")


class SessionLifetimeMiddleware:
    """End a session IPTCARE_SESSION_HOURS after login, however active (absolute lifetime).

    The idle timeout is Django's own: SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            login_at = request.session.get(SESSION_LOGIN_AT)
            now = timezone.now().timestamp()
            if login_at is None:
                request.session[SESSION_LOGIN_AT] = now
            elif now - float(login_at) > settings.IPTCARE_SESSION_HOURS * 3600:
                request.iptcare_logout_reason = "absolute session lifetime reached"  # type: ignore[attr-defined]
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"type": "about:blank", "title": "Unauthorized", "status": 401,
                         "detail": "Your session has ended; sign in again."},
                        status=401,
                        content_type="application/problem+json",
                    )
                messages.info(request, "Your session reached its time limit. Please sign in again.")
                return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.path}")
        return self.get_response(request)


class MFARequiredMiddleware:
    """Staff must pass a TOTP check before anything else (IPTCARE_REQUIRE_MFA; ONC (d)(13))."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.IPTCARE_REQUIRE_MFA and self._needs_mfa(request):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"type": "about:blank", "title": "Unauthorized", "status": 401,
                     "detail": "Multi-factor authentication is required for this session."},
                    status=401,
                    content_type="application/problem+json",
                )
            return redirect(f"{reverse('accounts:mfa')}?next={request.get_full_path()}")
        return self.get_response(request)

    @staticmethod
    def _needs_mfa(request: HttpRequest) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        if user.is_verified():
            return False
        return not request.path.startswith(MFA_EXEMPT_PREFIXES)
