"""The kiosk lock covers the whole session, not just the kiosk URLs.

After a client submits on the shared tablet the clinician's session holds ``kiosk.HANDBACK``
until the clinician re-enters their password on the hand-back page. Without this, typing any
other address in that browser (the caseload, a chart, the API) would show staff pages to
whoever holds the tablet. While the lock is held every request of the session is turned away:
pages are redirected to the hand-back page (the kiosk URL, where the password unlocks it), API
calls get ``423 Locked`` as problem+json (the shape ``config.api.problem`` gives every API
error). Let through: the locked kiosk URL itself (its view shows the hand-back page and does the
unlock; another client's kiosk URL is redirected like any page), static files, the health check
and logout (which ends the session, and the lock with it).

It runs after the session-lifetime and MFA middleware, so that an idle or expired session is
still ended (and the lock with it) rather than kept alive behind the hand-back page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse

from iptcare.measures.kiosk import HANDBACK

Handler = Callable[[HttpRequest], HttpResponse]

KIOSK_VIEW = "measures:kiosk"
LOCKED_DETAIL = (
    "This session is on the kiosk hand-back page. The clinician unlocks it by entering their "
    "password on the tablet."
)


def _locked_problem(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "type": "about:blank",
            "title": "Locked",
            "status": 423,
            "detail": LOCKED_DETAIL,
            "instance": request.path,
        },
        status=423,
        content_type="application/problem+json",
    )


class KioskLockMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        handback: dict[str, Any] | None = session.get(HANDBACK) if session is not None else None
        if handback is None or self._let_through(request, handback):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return _locked_problem(request)
        if not handback.get("code"):
            # A hand-back state from before the instrument was stored cannot name its page:
            # end the session (the safe side; the clinician signs in again).
            request.iptcare_logout_reason = "kiosk hand-back page unknown"  # type: ignore[attr-defined]
            logout(request)
            return redirect(settings.LOGIN_URL)
        return redirect(KIOSK_VIEW, client_id=handback["client"], code=handback["code"])

    @staticmethod
    def _let_through(request: HttpRequest, handback: dict[str, Any]) -> bool:
        path = request.path
        if path.startswith(settings.STATIC_URL):
            return True
        if path in {reverse("core:healthz"), reverse("accounts:logout")}:
            return True
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        # Only the locked page itself: another client's kiosk URL would read (and audit, in
        # the clinician's name) that client's record from the tablet.
        return (
            match.view_name == KIOSK_VIEW
            and str(match.kwargs.get("client_id")) == str(handback.get("client"))
            and match.kwargs.get("code") == handback.get("code")
        )
