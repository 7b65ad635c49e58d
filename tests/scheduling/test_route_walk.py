"""The site-wide walk (tests/test_url_walk.py), restricted to this app's routes, so that a
failure elsewhere in the walk cannot hide one here."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from tests.test_url_walk import _assert_refused, _concrete, _state, all_routes, world  # noqa: F401

PREFIXES = (
    "schedule/",
    "appointments/",
    "groups/",
    "clients/<uuid:client_id>/appointments",
    "programs/<uuid:program_id>/groups",
    "api/v1/schedule",
    "api/v1/appointments",
    "api/v1/group-sessions",
    "api/v1/clients/<client_id>/appointments",
)


def _ours() -> list[str]:
    routes = [r for r in all_routes() if r.startswith(PREFIXES)]
    assert len(routes) >= 15
    return routes


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_gets_nothing(world: dict[str, str], method: str) -> None:  # noqa: F811
    before = _state()
    http = HttpClient()
    for route in _ours():
        response = getattr(http, method)(_concrete(route, world))
        _assert_refused(route, method.upper(), response, signed_in=False)
    assert _state() == before


@pytest.mark.parametrize("persona", ["remy", "oscar", "tess"])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_users_without_permission_get_nothing(
    request: pytest.FixtureRequest,
    world: dict[str, str],  # noqa: F811
    login_as: Callable[[User], HttpClient],
    persona: str,
    method: str,
) -> None:
    http = login_as(request.getfixturevalue(persona))
    before = _state()
    for route in _ours():
        url = _concrete(route, world)
        if method in {"put", "delete"}:
            response = getattr(http, method)(url, data="{}", content_type="application/json")
        else:
            response = getattr(http, method)(url)
        # oscar and tess have their own week (empty of our markers); everything else is refused.
        own = persona != "remy" and route in {"schedule/week/", "api/v1/schedule/week"}
        _assert_refused(route, method.upper(), response, signed_in=True, own_data_ok=own)
    assert _state() == before


def test_the_walk_covers_the_attendance_correction_routes() -> None:
    routes = _ours()
    assert "appointments/<uuid:appointment_id>/attendance/correct/" in routes
    assert "api/v1/appointments/<appointment_id>/attendance-correction" in routes
