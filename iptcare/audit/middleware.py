"""The audit trail's edge around every request (``audit.services.edge``)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from iptcare.audit import services


class AuditEdgeMiddleware:
    """Appends the events a request kept for its edge — its reads, refusals and failed writes —
    after the view has returned (every transaction of the request committed or rolled back) and
    before the response leaves. Placed right after the request context, so that every other
    middleware, the view and Django's error handling run inside it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with services.edge() as kept:
            response = self.get_response(request)
            kept.answered(request.method or "GET", response.status_code)
            return response
