"""Pages and API of the IPT record, with bad input (field errors, nothing changed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

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
from tests.ipt.conftest import person

Login = Callable[[User], HttpClient]


def _page(episode: Episode) -> str:
    return f"/episodes/{episode.public_id}/ipt/"


def _api(episode: Episode) -> str:
    return f"/api/v1/episodes/{episode.public_id}/ipt"


def _person_post(prefix: str = "add", **extra: Any) -> dict[str, Any]:
    data = {
        "name": "Aunt M.",
        "relation": "aunt",
        "ring": "middle",
        "contact_frequency": "weekly",
        "expectations_met": "unknown",
        "conflicts_resolve": "unknown",
        "knows_about_use": "yes",
        "based_on": 0,
        **extra,
    }
    return {f"{prefix}-{k}": v for k, v in data.items()}


def test_page_flow(theo: User, episode: Episode, login_as: Login) -> None:
    http = login_as(theo)
    page = _page(episode)
    assert http.get(page).status_code == 200
    response = http.post(page + "people/", _person_post(supports_recovery="on"))
    assert response.status_code == 302
    response = http.post(page + "people/", _person_post(name="Mate Z.", ring="inner", based_on=1))
    assert response.status_code == 302
    mate = InventoryRevision.objects.get(number=2).people.get(name="Mate Z.")
    aunt = InventoryRevision.objects.get(number=2).people.get(name="Aunt M.")
    assert "Change a person" in http.get(page + f"?person={aunt.person_key}").content.decode()
    edit = _person_post("edit", ring="outer", based_on=2)
    edit["edit-person_key"] = str(aunt.person_key)
    assert http.post(page + "people/", edit).status_code == 302
    body = http.get(page).content.decode()
    assert "<svg" in body and 'role="img"' in body and "Moved further away" in body
    assert "Aunt M.: middle → outer ring" in body and "New in the inventory" in body
    assert body.count('class="closeness-circle"') == 3  # current + first and latest side by side
    assert 'style="' not in body and "<script" not in body
    # Formulation, problem area, contract, override, conclusion.
    assert (
        http.post(
            page + "formulation/", {"text": "Mood and use follow rows.", "based_on": 0}
        ).status_code
        == 302
    )
    assert (
        http.post(
            page + "problem-areas/",
            {
                "kind": "role_dispute",
                "dispute_person_key": str(mate.person_key),
                "stage": "impasse",
            },
        ).status_code
        == 302
    )
    area = ProblemArea.objects.get()
    assert (
        http.post(
            page + f"problem-areas/{area.public_id}/stages/",
            {"stage": "renegotiation", "recorded_on": "2025-02-01"},
        ).status_code
        == 302
    )
    assert (
        http.post(
            page + "contract/", {"sessions": 16, "start_date": "2025-01-06", "based_on": 0}
        ).status_code
        == 302
    )
    assert (
        http.post(
            page + "phase/override/", {"phase": "termination", "reason": "Moving away"}
        ).status_code
        == 302
    )
    assert (
        http.post(page + "conclusion/", {"gains": "Talks to sister", "based_on": 0}).status_code
        == 302
    )
    body = http.get(page).content.decode()
    assert "Renegotiation" in body and "Termination (conclusion) phase" in body
    assert http.post(page + "phase/override/clear/").status_code == 302
    assert http.post(page + f"problem-areas/{area.public_id}/end/").status_code == 302
    assert PhaseOverride.objects.get().cleared_at is not None
    assert ConclusionPlan.objects.count() == 1
    printable = http.get(page + "circle/print/")
    text = printable.content.decode()
    assert printable.status_code == 200 and "<nav" not in text and "Mate Z." in text
    assert http.get(page + "circle/print/?revision=1").status_code == 200
    assert http.get(page + "circle/print/?revision=9").status_code == 404


@pytest.mark.parametrize(
    ("url", "data", "field_text"),
    [
        ("people/", _person_post(name=""), "This field is required"),
        ("people/", _person_post(ring="nowhere"), "Select a valid choice"),
        ("formulation/", {"text": "", "based_on": 0}, "This field is required"),
        (
            "contract/",
            {"sessions": 30, "start_date": "2025-01-06", "based_on": 0},
            "less than or equal to 20",
        ),
        (
            "contract/",
            {"sessions": 16, "start_date": "not a date", "based_on": 0},
            "Enter a valid date",
        ),
        ("phase/override/", {"phase": "middle", "reason": ""}, "This field is required"),
        (
            "problem-areas/",
            {"kind": "role_transition", "transition_to": "x"},
            "Say which role the client is leaving",
        ),
        (
            "problem-areas/",
            {"kind": "role_dispute", "dispute_with": "Partner"},
            "Choose the stage of the dispute",
        ),
        ("conclusion/", {"based_on": 0}, "Write at least one part of the plan"),
    ],
)
def test_page_bad_input_shows_field_errors_and_changes_nothing(
    theo: User, episode: Episode, login_as: Login, url: str, data: dict[str, Any], field_text: str
) -> None:
    http = login_as(theo)
    response = http.post(_page(episode) + url, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="field-error"' in body and field_text in body
    assert not any(
        m.objects.exists()
        for m in (
            InventoryRevision,
            Formulation,
            ProblemArea,
            TreatmentContract,
            PhaseOverride,
            ConclusionPlan,
        )
    )


def test_page_third_problem_area_refused(theo: User, episode: Episode, login_as: Login) -> None:
    services.problem_area_add(actor=theo, episode=episode, kind="grief")
    services.problem_area_add(actor=theo, episode=episode, kind="interpersonal_deficits")
    response = login_as(theo).post(_page(episode) + "problem-areas/", {"kind": "grief"})
    assert response.status_code == 400
    assert "At most 2 problem areas" in response.content.decode()
    assert ProblemArea.objects.count() == 2


def test_page_stale_edit_is_409(theo: User, episode: Episode, login_as: Login) -> None:
    services.inventory_revision_create(actor=theo, episode=episode, people=[person("Aunt M.")])
    response = login_as(theo).post(_page(episode) + "people/", _person_post(name="K.", based_on=0))
    assert response.status_code == 409
    assert InventoryRevision.objects.count() == 1


def test_api_flow(theo: User, episode: Episode, login_as: Login) -> None:
    http = login_as(theo)
    api = _api(episode)
    assert http.get(api + "/inventory").status_code == 404
    created = http.post(
        api + "/inventory/revisions",
        {
            "based_on": 0,
            "people": [
                person("Aunt M.", "outer"),
                person("Mate Z.", "inner", uses_with_client=True),
            ],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    people = created.json()["people"]
    aunt = {**people[0], "ring": "inner", "supports_recovery": True}
    second = http.post(
        api + "/inventory/revisions",
        {"based_on": 1, "note": "revisited", "people": [aunt]},
        content_type="application/json",
    )
    assert second.status_code == 201
    stale = http.post(
        api + "/inventory/revisions",
        {"based_on": 1, "people": [aunt]},
        content_type="application/json",
    )
    assert stale.status_code == 409
    assert http.get(api + "/inventory").json()["number"] == 2
    assert len(http.get(api + "/inventory/revisions").json()) == 2
    diff = http.get(api + "/inventory/diff").json()
    assert [m["name"] for m in diff["closer"]] == ["Aunt M."]
    assert diff["left"] == ["Mate Z."] and diff["newly_supportive"] == ["Aunt M."]
    svg = http.get(api + "/circle.svg?revision=1")
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    assert ET.fromstring(svg.content).get("role") == "img"  # noqa: S314 - our own SVG
    assert http.get(api + "/circle.svg?revision=7").status_code == 404

    assert (
        http.post(
            api + "/formulation", {"text": "F1", "based_on": 0}, content_type="application/json"
        ).status_code
        == 201
    )
    area = http.post(
        api + "/problem-areas",
        {
            "kind": "role_dispute",
            "dispute_person_key": aunt["person_key"],
            "stage": "impasse",
            "stage_on": "2025-01-20",
        },
        content_type="application/json",
    )
    assert area.status_code == 201, area.content
    area_id = area.json()["id"]
    staged = http.post(
        f"/api/v1/ipt/problem-areas/{area_id}/stages",
        {"stage": "dissolution", "recorded_on": "2025-03-01"},
        content_type="application/json",
    )
    assert [s["stage"] for s in staged.json()["stages"]] == ["impasse", "dissolution"]
    formulation = http.get(api + "/formulation").json()
    assert formulation["current"]["text"] == "F1" and len(formulation["problem_areas"]) == 1
    assert http.post(f"/api/v1/ipt/problem-areas/{area_id}/end").json()["active"] is False

    assert http.get(api + "/phase").json()["info"] is None
    contract = http.put(
        api + "/contract",
        {"start_date": "2025-01-06", "based_on": 0},
        content_type="application/json",
    )
    assert contract.json()["sessions"] == 16
    assert http.get(api + "/contract").json()["version"] == 1
    phase = http.get(api + "/phase").json()
    assert phase["info"]["phase"] == "initial" and phase["info"]["of_n"] == 16
    assert (
        http.put(
            api + "/phase/override",
            {"phase": "middle", "reason": "Ready"},
            content_type="application/json",
        ).status_code
        == 200
    )
    assert http.get(api + "/phase").json()["info"]["overridden"] is True
    assert http.delete(api + "/phase/override").json()["cleared_at"] is not None
    assert http.get(api + "/conclusion-plan").status_code == 404
    plan = http.post(
        api + "/conclusion-plan", {"gains": "G", "based_on": 0}, content_type="application/json"
    )
    assert plan.status_code == 201 and http.get(api + "/conclusion-plan").json()["gains"] == "G"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "post",
            "/inventory/revisions",
            {"based_on": 0, "people": [{"name": "", "relation": "x", "ring": "inner"}]},
            "people.0.name",
        ),
        (
            "post",
            "/inventory/revisions",
            {"based_on": 0, "people": [{"name": "A", "relation": "x", "ring": "far"}]},
            "people.0.ring",
        ),
        ("post", "/inventory/revisions", {"based_on": 0, "people": []}, "people"),
        (
            "put",
            "/contract",
            {"sessions": 4, "start_date": "2025-01-06", "based_on": 0},
            "sessions",
        ),
        ("put", "/phase/override", {"phase": "middle", "reason": ""}, "reason"),
        ("post", "/problem-areas", {"kind": "role_transition"}, "transition_from"),
        ("post", "/formulation", {"text": " ", "based_on": 0}, "text"),
    ],
)
def test_api_bad_input(
    theo: User,
    episode: Episode,
    login_as: Login,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = getattr(login_as(theo), method)(
        _api(episode) + path, body, content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not any(
        m.objects.exists()
        for m in (InventoryRevision, Formulation, ProblemArea, TreatmentContract, PhaseOverride)
    )
