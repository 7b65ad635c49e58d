from __future__ import annotations

import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from iptcare.core import request_context

Handler = Callable[[HttpRequest], HttpResponse]


def client_ip(request: HttpRequest) -> str | None:
    # Behind a trusted proxy, the proxy's X-Forwarded-For first hop is the client.
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    """Gives every request an id (echoed as X-Request-ID) and binds it for the audit trail."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request_context.RequestMeta(
            request_id=uuid.uuid4().hex,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:400],
        )
        request.request_id = meta.request_id  # type: ignore[attr-defined]
        with request_context.bound(meta):
            response = self.get_response(request)
        response["X-Request-ID"] = meta.request_id
        return response


def _no_store(response: HttpResponse) -> None:
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)


def _no_store_value() -> str:
    """The Cache-Control that ``_no_store`` writes: ``never_cache`` writes the same."""
    response = HttpResponse()
    _no_store(response)
    return response["Cache-Control"]


class NoStoreMiddleware:
    """Nothing a signed-in user sees may be kept by a browser or proxy cache (ONC (d)(7))."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.value = _no_store_value()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(settings.STATIC_URL):
            return response
        # A view under ``never_cache`` already has exactly these headers (parsing and writing
        # them again is most of this middleware's time on such a page).
        if response.get("Cache-Control") != self.value or not response.has_header("Expires"):
            _no_store(response)
        return response


class DomainErrorMiddleware:
    """Pages: a refused action renders a 403/404/409 page with the domain's message."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from iptcare.core.errors import DomainError

        if isinstance(exception, DomainError):
            return render(
                request,
                "error.html",
                {
                    "title": exception.title,
                    "message": exception.message,
                    "status": exception.status,
                },
                status=exception.status,
            )
        return None
