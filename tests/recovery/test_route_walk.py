"""The site-wide walk (tests/test_url_walk.py), restricted to this app's routes, so that a
failure elsewhere in the walk cannot hide one here — with a real screen id, so that the screen
routes are refused by the policy and not merely by a missing id."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.recovery.models import DrugScreen, ReturnToUseEvent, UseDay
from tests.recovery.conftest import MakeScreen, RecordDays, days_ago
from tests.test_url_walk import _assert_refused, _concrete, _state, all_routes, world  # noqa: F401

SEGMENTS = (
    "/recovery/",
    "screens/<uuid:screen_id>",
    "drug-screens",
    "use-days",
    "abstinence",
    "return-to-use",
)


def _ours() -> list[str]:
    routes = [r for r in all_routes() if any(s in r for s in SEGMENTS)]
    assert len(routes) >= 11, routes
    return routes


@pytest.fixture
def recovery_world(
    world: dict[str, str],  # noqa: F811
    record_days: RecordDays,
    make_screen: MakeScreen,
) -> dict[str, str]:
    record_days("uaaaaaaau")
    screen = make_screen(days_ago(1), fentanyl="positive", cocaine="negative")
    return {**world, "screen_id": str(screen.public_id)}


def _recovery_state() -> tuple[int, ...]:
    return (
        *_state(),
        DrugScreen.objects.count(),
        UseDay.objects.count(),
        ReturnToUseEvent.objects.count(),
        sum(DrugScreen.objects.values_list("version", flat=True)),
    )


def test_the_walk_covers_every_page_and_endpoint() -> None:
    routes = set(_ours())
    for expected in [
        "clients/<uuid:client_id>/recovery/",
        "clients/<uuid:client_id>/recovery/screens/",
        "clients/<uuid:client_id>/recovery/days/",
        "clients/<uuid:client_id>/recovery/return-to-use/",
        "screens/<uuid:screen_id>/",
        "api/v1/clients/<client_id>/drug-screens",
        "api/v1/drug-screens/<screen_id>",
        "api/v1/drug-screens/<screen_id>/expected",
        "api/v1/clients/<client_id>/use-days",
        "api/v1/clients/<client_id>/abstinence",
        "api/v1/clients/<client_id>/return-to-use",
    ]:
        assert expected in routes, expected


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_gets_nothing(recovery_world: dict[str, str], method: str) -> None:
    before = _recovery_state()
    http = HttpClient()
    for route in _ours():
        response = getattr(http, method)(_concrete(route, recovery_world))
        _assert_refused(route, method.upper(), response, signed_in=False)
    assert _recovery_state() == before


@pytest.mark.parametrize("persona", ["remy", "oscar", "tess"])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_users_without_permission_get_nothing(
    request: pytest.FixtureRequest,
    recovery_world: dict[str, str],
    login_as: Callable[[User], HttpClient],
    persona: str,
    method: str,
) -> None:
    http = login_as(request.getfixturevalue(persona))
    before = _recovery_state()
    for route in _ours():
        url = _concrete(route, recovery_world)
        if method in {"put", "delete"} or (method == "post" and route.startswith("api/")):
            body = '{"version": 1, "analytes": ["fentanyl"], "reason": "x", "start": "2026-01-01"}'
            response = getattr(http, method)(url, data=body, content_type="application/json")
        else:
            response = getattr(http, method)(url)
        _assert_refused(route, method.upper(), response, signed_in=True)
        if method == "get":
            # Refused by the access policy itself, not by a missing id or a malformed request.
            assert response.status_code in {403, 404, 405}, (route, response.status_code)
    assert _recovery_state() == before
