"""Every IPT page and API route, with real ids, refuses the outsiders: tess (therapist in
another program), remy (researcher), oscar (another organisation), and anonymous users."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.clients.models import Episode
from iptcare.ipt import services
from iptcare.ipt.models import (
    ConclusionPlan,
    Formulation,
    InventoryRevision,
    PhaseOverride,
    ProblemArea,
    TreatmentContract,
)
from tests.ipt.conftest import START, person
from tests.test_url_walk import _concrete, all_routes

PREFIXES = ("episodes/<uuid:episode_id>/ipt/", "api/v1/episodes/<episode_id>/ipt", "api/v1/ipt/")


def _ours() -> list[str]:
    routes = [r for r in all_routes() if r.startswith(PREFIXES)]
    assert len(routes) >= 20
    return routes


def _state() -> tuple[int, ...]:
    return tuple(
        m.objects.count()
        for m in (
            InventoryRevision,
            Formulation,
            ProblemArea,
            TreatmentContract,
            PhaseOverride,
            ConclusionPlan,
        )
    )


@pytest.fixture
def ids(theo: User, episode: Episode) -> dict[str, str]:
    revision = services.inventory_revision_create(
        actor=theo, episode=episode, people=[person("Partner A.", "inner")]
    )
    key = revision.people.get().person_key
    area = services.problem_area_add(
        actor=theo, episode=episode, kind="role_dispute", dispute_person_key=key, stage="impasse"
    )
    services.contract_save(actor=theo, episode=episode, sessions=16, start_date=START)
    services.phase_override_set(actor=theo, episode=episode, phase="middle", reason="r")
    services.formulation_save(actor=theo, episode=episode, text="Formulation F")
    services.conclusion_plan_save(actor=theo, episode=episode, gains="Gains G")
    return {
        "episode_id": str(episode.public_id),
        "area_id": str(area.public_id),
        "person_key": str(key),
    }


MARKERS = ("Partner A.", "Formulation F", "Gains G", "Testbrook")


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar", "anonymous"])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_outsiders_refused_everywhere(
    request: pytest.FixtureRequest,
    login_as: Callable[[User], HttpClient],
    ids: dict[str, str],
    persona: str,
    method: str,
) -> None:
    http = HttpClient() if persona == "anonymous" else login_as(request.getfixturevalue(persona))
    before = _state()
    for route in _ours():
        url = _concrete(route, ids)
        if method == "get":
            response = http.get(url)
        else:
            response = getattr(http, method)(url, data="{}", content_type="application/json")
        text = response.content.decode(errors="replace")
        for marker in MARKERS:
            assert marker not in text, f"{method} {url} leaked {marker!r}"
        if response.status_code == 302:
            assert "/login/" in response["Location"]
            continue
        assert response.status_code in {401, 403, 404, 405, 422}, (url, response.status_code)
        if persona == "oscar":
            assert response.status_code != 403, "another organisation's record does not exist"
    assert _state() == before


def test_theo_may_open_every_get_route(
    theo: User, login_as: Callable[[User], HttpClient], ids: dict[str, str]
) -> None:
    http = login_as(theo)
    for route in _ours():
        url = _concrete(route, ids)
        response = http.get(url)
        assert response.status_code in {200, 405}, (url, response.status_code)
