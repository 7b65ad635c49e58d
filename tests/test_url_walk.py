"""Walk EVERY URL pattern and API route as anonymous, as a same-organisation user without
permission (remy, researcher) and as another organisation's administrator (oscar). Fails if any
route returns data it should not, or changes anything."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver

from iptcare.accounts.models import ApiToken, RoleGrant, User
from iptcare.accounts.services import token_create
from iptcare.clients.models import Client
from iptcare.core.models import Program

# Routes anyone may open: they show forms or public facts, no data.
PUBLIC = {
    "account/login/",
    "account/logout/",
    "account/password/reset/",
    "account/password/reset/sent/",
    "account/password/reset/<uidb64>/<token>/",
    "portal/welcome/<uidb64>/<token>/",
    "account/password/reset/complete/",
    "healthz",
    "api/v1/openapi.json",
    "django-admin/login/",
    "django-admin/logout/",
}
# Routes any signed-in staff member may open: about themselves only.
SELF_SERVICE = {
    "",
    "account/mfa/",
    "account/password/change/",
    "api/v1/me",
    "api/v1/programs",
    "api/v1/tokens",
    "api/v1/tokens/<token_id>",
    "notes/cosign-queue/",  # lists only notes this user may co-sign: none for an outsider
    "caseload/",  # lists only episodes whose primary clinician is this user
    "alerts/",  # lists only alerts of this user's clients or of programs they supervise
    "portal/",  # a client's own page; 404 for anyone without a portal account
    "api/v1/alerts",  # the same inbox over the API
    # Published instruments and stateless scoring: reference facts, no one's data.
    "api/v1/instruments",
    "api/v1/instruments/<code>",
    "api/v1/instruments/<code>/score",
}


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        pattern = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + pattern)
        elif isinstance(entry, URLPattern):
            yield prefix + pattern


def all_routes() -> list[str]:
    routes = sorted(set(_walk(get_resolver())))
    assert len(routes) > 20
    return routes


def _concrete(route: str, values: dict[str, str]) -> str:
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "x"), route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m.group(1), "x"), path)
    path = path.replace("^", "").replace("$", "").replace("\\", "")
    return "/" + path


MARKERS = ("Testbrook", "T-0001", "theo@example.org", "alice@example.org")


@pytest.fixture
def world(
    alice: User, theo: User, remy: User, oscar: User, client_record: Client, northside: Program
) -> dict[str, str]:
    token = token_create(user=theo, name="theo's script", days=5).token
    return {
        "client_id": str(client_record.public_id),
        "program_id": str(northside.public_id),
        "public_id": str(theo.public_id),
        "user_id": str(theo.public_id),
        "token_id": str(token.public_id),
        "app_label": "accounts",
        "model_name": "user",
        "object_id": str(theo.pk),
        "content_type_id": "1",
    }


def _state() -> tuple[int, ...]:
    return (
        User.objects.count(),
        RoleGrant.objects.count(),
        Client.objects.count(),
        ApiToken.objects.filter(revoked_at__isnull=True).count(),
        User.objects.filter(is_active=True).count(),
    )


def _assert_refused(
    route: str, method: str, response: Any, *, signed_in: bool, own_data_ok: bool = False
) -> None:
    status = response.status_code
    body = (
        b"".join(response.streaming_content)
        if getattr(response, "streaming", False)
        else response.content
    )
    text = body.decode(errors="replace")
    for marker in MARKERS:
        assert marker not in text, f"{method} /{route} leaked {marker!r} ({status})"
    if route in PUBLIC or (signed_in and route in SELF_SERVICE) or own_data_ok:
        return
    if status == 302:
        location = response["Location"]
        assert "/login/" in location, f"{method} /{route} redirected to {location}"
        return
    # 400/422: input refused before the permission check ran; nothing was read or written.
    assert status in {400, 401, 403, 404, 405, 422}, f"{method} /{route} answered {status}"


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_gets_nothing_anywhere(world: dict[str, str], method: str) -> None:
    before = _state()
    http = HttpClient()
    for route in all_routes():
        response = getattr(http, method)(_concrete(route, world))
        _assert_refused(route, method.upper(), response, signed_in=False)
    assert _state() == before


@pytest.fixture
def carla(alice: User, client_record: Client) -> User:
    """A client of the same organisation and program, signed up for the portal."""
    from iptcare.portal.models import PortalAccount

    other = Client.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        record_number="P-0001",
        legal_given_name="Carla",
        legal_family_name="Portalwalker",
        date_of_birth=client_record.date_of_birth,
    )
    user = User.objects.create_user(
        "carla@example.net", None, full_name="Carla", organisation=client_record.organisation
    )
    RoleGrant.objects.create(user=user, role="portal_client")
    PortalAccount.objects.create(
        user=user, client=other, invited_by=alice, invited_at=other.created_at
    )
    return User.objects.get(pk=user.pk)


@pytest.mark.parametrize("persona", ["remy", "oscar", "carla"])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_user_without_permission_gets_nothing_anywhere(
    request: pytest.FixtureRequest,
    world: dict[str, str],
    login_as: Callable[[User], HttpClient],
    persona: str,
    method: str,
) -> None:
    actor: User = request.getfixturevalue(persona)
    http = login_as(actor)
    before = _state()
    for route in all_routes():
        if route in {"account/logout/"}:
            continue  # would end this very session; logout is covered in test_auth
        url = _concrete(route, world)
        if method in {"put", "delete"}:
            response = getattr(http, method)(url, data="{}", content_type="application/json")
        else:
            response = getattr(http, method)(url)
        # oscar administers his own organisation: he may see its pages, never ours.
        _assert_refused(
            route, method.upper(), response, signed_in=True, own_data_ok=persona == "oscar"
        )
    assert _state() == before


def test_the_walk_covers_the_clinical_and_admin_routes() -> None:
    routes = set(all_routes())
    for expected in [
        "clients/<uuid:client_id>/",
        "staff/",
        "audit/",
        "audit/export.csv",
        "api/v1/clients/<client_id>",
        "api/v1/staff",
    ]:
        assert expected in routes, expected
