"""Plan pages and API: the clinician's path, outsiders refused on every route, bad input."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.clients.models import Episode
from iptcare.plans import demo, selectors, services
from iptcare.plans.models import PlanStatus, TreatmentPlan
from tests.plans.conftest import TODAY, complete_content


def _routes(plan: TreatmentPlan, other: TreatmentPlan) -> list[tuple[str, str, dict]]:
    e, p, o = plan.episode.public_id, plan.public_id, other.public_id
    return [
        ("get", f"/episodes/{e}/plan/", {}),
        ("post", f"/episodes/{e}/plan/new-version/", {}),
        (
            "post",
            f"/plans/{p}/edit/",
            {"op": "problem", "problem-text": "x", "problem-version": "1"},
        ),
        ("post", f"/plans/{p}/sign/", {"version": plan.version}),
        ("post", f"/plans/{p}/acknowledge/", {"version": plan.version}),
        ("post", f"/plans/{p}/cosign/", {}),
        ("post", f"/plans/{p}/suggestions/mi_first/", {"decision": "accepted"}),
        ("get", f"/plans/{p}/diff/{o}/", {}),
        ("get", f"/plans/{p}/print/", {}),
        ("get", f"/api/v1/episodes/{e}/plans", {}),
        ("post", f"/api/v1/episodes/{e}/plans", {}),
        ("get", f"/api/v1/plans/{p}", {}),
        ("put", f"/api/v1/plans/{p}", {"version": plan.version, "content": {"problems": []}}),
        ("post", f"/api/v1/plans/{p}/sign", {"version": plan.version}),
        ("post", f"/api/v1/plans/{p}/acknowledge", {"version": plan.version}),
        ("post", f"/api/v1/plans/{p}/cosign", {}),
        ("get", f"/api/v1/plans/{p}/diff/{o}", {}),
        ("get", f"/api/v1/plans/{p}/suggestions", {}),
        ("post", f"/api/v1/plans/{p}/suggestions/mi_first", {"decision": "accepted"}),
    ]


def _call(http: HttpClient, method: str, url: str, data: dict):
    if url.startswith("/api/") and method in {"post", "put"}:
        return getattr(http, method)(url, data=json.dumps(data), content_type="application/json")
    return getattr(http, method)(url, data) if method == "post" else http.get(url)


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsider_refused_on_every_route(
    request: pytest.FixtureRequest,
    login_as: Callable[[User], HttpClient],
    theo: User,
    active: TreatmentPlan,
    persona: str,
) -> None:
    draft = services.plan_start_version(actor=theo, episode=active.episode)
    http = login_as(request.getfixturevalue(persona))
    before = list(TreatmentPlan.objects.order_by("pk").values_list("pk", "status", "version"))
    for method, url, data in _routes(draft, active):
        response = _call(http, method, url, data)
        assert response.status_code in {403, 404}, (persona, method, url, response.status_code)
        assert b"Testbrook" not in response.content
        assert b"calmer" not in response.content
    after = list(TreatmentPlan.objects.order_by("pk").values_list("pk", "status", "version"))
    assert after == before


def test_clinician_path_through_the_pages(
    login_as: Callable[[User], HttpClient], theo: User, episode: Episode
) -> None:
    http = login_as(theo)
    url = f"/episodes/{episode.public_id}/plan/"
    assert http.get(url).status_code == 200
    assert http.post(f"{url}new-version/").status_code == 302
    plan = TreatmentPlan.objects.get(episode=episode)
    edit = f"/plans/{plan.public_id}/edit/"

    def post(op: str, **fields: object) -> int:
        plan.refresh_from_db()
        data = {"op": op, f"{op}-version": plan.version}
        data.update({f"{op}-{k}": v for k, v in fields.items()})
        return http.post(edit, data).status_code

    assert post("problem", text="Drinking after work.", asam_dimension="5") == 302
    key = selectors.plan_snapshot(plan)["problems"][0]["key"]
    assert post("goal", parent=key, text="I want to enjoy evenings again.") == 302
    key = selectors.plan_snapshot(plan)["problems"][0]["goals"][0]["key"]
    assert (
        post(
            "objective",
            parent=key,
            text="Three dry evenings a week.",
            target_date=TODAY.isoformat(),
        )
        == 302
    )
    key = selectors.plan_snapshot(plan)["problems"][0]["goals"][0]["objectives"][0]["key"]
    assert (
        post(
            "intervention",
            parent=key,
            modality="cbt",
            frequency="weekly",
            responsible=str(theo.public_id),
        )
        == 302
    )
    assert (
        post(
            "medication", name="Naltrexone", indication="aud", outside_prescriber="Community clinic"
        )
        == 302
    )
    page = http.get(url)
    assert b"I want to enjoy evenings again." in page.content
    assert b"Recorded here, not prescribed" in page.content
    plan.refresh_from_db()
    assert http.post(f"/plans/{plan.public_id}/sign/", {"version": plan.version}).status_code == 302
    plan.refresh_from_db()
    assert (
        http.post(f"/plans/{plan.public_id}/acknowledge/", {"version": plan.version}).status_code
        == 302
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE
    printed = http.get(f"/plans/{plan.public_id}/print/")
    assert printed.status_code == 200
    assert b"Client acknowledgement" in printed.content and b"nav aria-label" not in printed.content
    assert b"print.css" in printed.content


def test_page_bad_input_shows_field_errors_and_changes_nothing(
    login_as: Callable[[User], HttpClient], theo: User, tess: User, draft: TreatmentPlan
) -> None:
    http = login_as(theo)
    before = selectors.plan_snapshot(draft)
    key = before["problems"][0]["goals"][0]["objectives"][0]["key"]
    response = http.post(
        f"/plans/{draft.public_id}/edit/",
        {
            "op": "intervention",
            "intervention-version": draft.version,
            "intervention-parent": key,
            "intervention-modality": "cbt",
            "intervention-frequency": "",
            "intervention-responsible": str(tess.public_id),
        },
    )
    assert response.status_code == 400
    assert b"field-error" in response.content
    response = http.post(
        f"/plans/{draft.public_id}/edit/",
        {"op": "goal", "goal-version": draft.version, "goal-parent": "nope", "goal-text": "x"},
    )
    assert response.status_code == 400
    stale = http.post(
        f"/plans/{draft.public_id}/edit/",
        {"op": "problem", "problem-version": draft.version - 1, "problem-text": "New"},
    )
    assert stale.status_code == 409
    fresh = TreatmentPlan.objects.get(pk=draft.pk)
    assert fresh.version == draft.version
    assert selectors.plan_snapshot(fresh) == before


def test_api_round_trip_conflict_immutability_and_diff(
    login_as: Callable[[User], HttpClient], theo: User, episode: Episode
) -> None:
    http = login_as(theo)
    base = f"/api/v1/episodes/{episode.public_id}/plans"
    created = http.post(base)
    assert created.status_code == 201, created.content
    plan = created.json()
    url = f"/api/v1/plans/{plan['id']}"
    body = {"version": plan["version"], "content": complete_content(responsible=theo)}
    saved = http.put(url, data=json.dumps(body), content_type="application/json")
    assert saved.status_code == 200, saved.content
    stale = http.put(url, data=json.dumps(body), content_type="application/json")
    assert stale.status_code == 409
    assert stale["Content-Type"] == "application/problem+json"
    bad = dict(body, version=saved.json()["version"])
    bad["content"] = {"problems": [{"text": "", "goals": []}]}
    refused = http.put(url, data=json.dumps(bad), content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "problems.0.text"
    version = saved.json()["version"]
    signed = http.post(
        f"{url}/sign", data=json.dumps({"version": version}), content_type="application/json"
    )
    assert signed.json()["status"] == "pending"
    frozen = http.put(
        url,
        data=json.dumps(dict(body, version=signed.json()["version"])),
        content_type="application/json",
    )
    assert frozen.status_code == 409
    ack = http.post(
        f"{url}/acknowledge",
        data=json.dumps({"version": signed.json()["version"]}),
        content_type="application/json",
    )
    assert ack.json()["status"] == "active" and ack.json()["review_due"]
    v2 = http.post(base).json()
    content2 = v2["content"]
    content2["problems"][0]["goals"][0]["text"] = "I want a quieter home."
    http.put(
        f"/api/v1/plans/{v2['id']}",
        data=json.dumps({"version": v2["version"], "content": content2}),
        content_type="application/json",
    )
    diff = http.get(f"/api/v1/plans/{v2['id']}/diff/{plan['id']}").json()
    assert [(d["kind"], d["change"]) for d in diff] == [("goal", "changed")]
    listed = http.get(base).json()
    assert [p["number"] for p in listed] == [2, 1]


def test_api_suggestions_and_decision(
    login_as: Callable[[User], HttpClient], theo: User, draft: TreatmentPlan
) -> None:
    http = login_as(theo)
    url = f"/api/v1/plans/{draft.public_id}/suggestions"
    shown = http.get(url, {"audit_total": 16}).json()
    assert [s["rule"] for s in shown] == ["maud_consider"]
    assert "NIAAA" in shown[0]["source"]
    decided = http.post(
        f"{url}/maud_consider",
        data=json.dumps({"decision": "dismissed"}),
        content_type="application/json",
    )
    assert decided.status_code == 201
    assert http.get(url, {"audit_total": 16}).json() == []


def test_demo_hook(theo: User, episode: Episode, add_diagnosis) -> None:
    add_diagnosis(episode.client, "F11.20")
    episode = Episode.objects.select_related("client", "primary_clinician").get(pk=episode.pk)
    episode.primary_clinician = theo
    written = demo.generate(episodes=[episode], rng=random.Random(3), today=TODAY, share=1.0)
    assert written >= 1
    plans = list(TreatmentPlan.objects.filter(episode=episode).order_by("number"))
    assert plans[-1].status == PlanStatus.ACTIVE
    assert all(services.digest_ok(p) for p in plans)
    snap = selectors.plan_snapshot(plans[-1])
    assert snap["problems"] and snap["problems"][0]["goals"][0]["objectives"]
    from iptcare.audit.models import AuditEvent

    assert not AuditEvent.objects.filter(resource_type="treatment_plan").exists()
