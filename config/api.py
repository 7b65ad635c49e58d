"""The JSON API at /api/v1/ (django-ninja). One error format: RFC 9457 problem+json."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from iptcare.accounts.api import router as accounts_router
from iptcare.accounts.api_auth import BearerToken, MFASessionAuth
from iptcare.clients.api import router as clients_router
from iptcare.core.api import router as core_router
from iptcare.core.errors import DomainError
from iptcare.encounters.api import router as encounters_router
from iptcare.encounters.services import NoteConflict
from iptcare.ipt.api import router as ipt_router
from iptcare.measures.api import router as measures_router
from iptcare.plans.api import router as plans_router
from iptcare.recovery.api import router as recovery_router
from iptcare.scheduling.api import router as scheduling_router

api = NinjaAPI(
    title="iptcare API",
    version="1",
    description=(
        "Every response that is not 2xx is application/problem+json (RFC 9457). "
        "Authenticate with the browser session (plus CSRF token) "
        "or `Authorization: Bearer <token>`."
    ),
    auth=[BearerToken(), MFASessionAuth()],
    urls_namespace="api",
    docs_url=None,  # the Swagger UI page loads from a CDN; we serve only openapi.json
)


def problem(
    request: HttpRequest,
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = "application/problem+json"
    return response


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    errors = [
        {"field": field, "message": message}
        for field, messages in exc.field_errors.items()
        for message in messages
    ]
    return problem(request, exc.status, exc.title, exc.message, errors or None)


@api.exception_handler(NoteConflict)
def on_note_conflict(request: HttpRequest, exc: NoteConflict) -> HttpResponse:
    """409 carrying both texts, so that no one's words are silently lost."""
    response = problem(request, 409, exc.title, exc.message)
    body = json.loads(response.content)
    body["current"] = {"version": exc.current.version, "content": exc.current.content}
    body["submitted"] = {"content": exc.submitted}
    response.content = json.dumps(body).encode()
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for err in exc.errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in {"body", "payload"}]
        errors.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
    return problem(request, 422, "Invalid input", "Some fields are invalid.", errors)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = problem(request, 401, "Unauthorized", "Sign in, or send a valid API token.")
    response["WWW-Authenticate"] = 'Bearer realm="iptcare"'
    return response


@api.exception_handler(AuthorizationError)
def on_unauthorized(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return problem(request, 403, "Forbidden", str(exc) or "Access refused.")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, 404, "Not found", "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(request, exc.status_code, "Request refused", str(exc))


api.add_router("/", core_router)
api.add_router("/", accounts_router)
api.add_router("/", clients_router)
api.add_router("/", scheduling_router)
api.add_router("/", encounters_router)
api.add_router("/", ipt_router)
api.add_router("/", plans_router)
api.add_router("/", recovery_router)
api.add_router("/", measures_router)
