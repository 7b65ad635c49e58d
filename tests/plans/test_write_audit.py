"""Each write to a treatment plan leaves exactly one audit event (ADR 0015), through the pages
and the API as a signed-in persona:

- a successful write: one event, outcome success, with the access decision's role and reason,
  naming the plan version it wrote (the route's reads that prepared it are not appended);
- a bad input or a stale version: nothing changes, and one failure event names the error's kind
  and fields — never what was submitted;
- an outsider: refused (403, or 404 across organisations), one denied event, nothing changes.

The plan pages have no empty form of their own to open (a new version is one button on the
plan page, which shows the plan), so there is no "opening records nothing" case here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.test import Client as HttpClient

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.plans import services
from iptcare.plans.models import PlanStatus, TreatmentPlan
from tests.helpers import audit_events_after, last_audit_id
from tests.plans.conftest import complete_content

Login = Callable[[User], HttpClient]
CLINICAL = DataCategory.CLINICAL_RECORD


def _said(event: AuditEvent) -> str:
    """Everything an event says in its own words: where a submitted value could leak."""
    return json.dumps({"reason": event.reason, "detail": event.detail})


def _state() -> list[tuple[Any, ...]]:
    return list(TreatmentPlan.objects.order_by("pk").values_list("pk", "status", "version"))


def _put(http: HttpClient, url: str, body: dict[str, Any]) -> Any:
    return http.put(url, data=json.dumps(body), content_type="application/json")


# --- (a) a successful write -------------------------------------------------------------------


def test_signing_through_the_page_leaves_one_success_event(
    theo: User, draft: TreatmentPlan, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(f"/plans/{draft.public_id}/sign/", {"version": draft.version})
    assert response.status_code == 302
    assert TreatmentPlan.objects.get(pk=draft.pk).status == PlanStatus.PENDING
    decision = decide(theo, Action.SIGN, draft, CLINICAL, Purpose.TREATMENT)
    (event,) = audit_events_after(
        before
    )  # the route's read of the plan is named by the write's event
    assert (event.outcome, event.action) == ("success", "sign")
    assert (event.resource_type, event.resource_id) == ("treatment_plan", str(draft.public_id))
    assert event.actor_role == decision.role == "therapist"
    assert event.reason == decision.reason
    assert event.detail == {"status": "pending"}


def test_a_new_version_through_the_page_leaves_one_success_event_naming_it(
    theo: User, active: TreatmentPlan, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(f"/episodes/{active.episode.public_id}/plan/new-version/")
    assert response.status_code == 302
    new = TreatmentPlan.objects.get(episode=active.episode, number=2)
    decision = decide(theo, Action.CREATE, active.episode, CLINICAL, Purpose.TREATMENT)
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action) == ("success", "create")
    assert (event.resource_type, event.resource_id) == ("treatment_plan", str(new.public_id))
    assert (event.actor_role, event.reason) == (decision.role, decision.reason)
    assert event.detail == {"plan": "new", "number": 2, "based_on": str(active.public_id)}


def test_activation_names_the_version_it_supersedes(theo: User, active: TreatmentPlan) -> None:
    plan = services.plan_start_version(actor=theo, episode=active.episode)
    plan = services.plan_sign(actor=theo, plan=plan, version=plan.version)
    before = last_audit_id()
    services.plan_acknowledge(actor=theo, plan=plan, version=plan.version)
    (event,) = audit_events_after(before)
    assert event.outcome == "success" and event.resource_id == str(plan.public_id)
    assert event.detail == {
        "acknowledgement": "in_person",
        "status": "active",
        "superseded": [str(active.public_id)],
    }


def test_a_suggestion_decision_through_the_api_leaves_one_success_event(
    theo: User, draft: TreatmentPlan, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(
        f"/api/v1/plans/{draft.public_id}/suggestions/mi_first",
        data=json.dumps({"decision": "dismissed", "note": "Already motivated."}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action, event.resource_id) == (
        "success",
        "update",
        str(draft.public_id),
    )
    assert event.detail == {"suggestion": "mi_first", "decision": "dismissed"}
    assert "Already motivated" not in _said(event)


# --- (b) a bad input or a stale version -------------------------------------------------------


def test_bad_content_changes_nothing_and_leaves_one_failure_event(
    theo: User, draft: TreatmentPlan, login_as: Login
) -> None:
    http = login_as(theo)
    content = complete_content()
    content["problems"][0]["text"] = ""
    content["problems"][0]["goals"][0]["text"] = "Secret goal words."
    state = _state()
    before = last_audit_id()
    response = _put(
        http,
        f"/api/v1/plans/{draft.public_id}",
        {"version": draft.version, "content": content},
    )
    assert response.status_code == 422, response.content
    assert _state() == state
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action, event.resource_id) == (
        "failure",
        "update",
        str(draft.public_id),
    )
    assert event.reason == "failed: InvalidInput (422); fields: problems.0.text"
    assert event.actor_role == "therapist"
    assert "Secret goal" not in _said(event)


def test_a_stale_signature_changes_nothing_and_leaves_one_failure_event(
    theo: User, draft: TreatmentPlan, login_as: Login
) -> None:
    http = login_as(theo)
    state = _state()
    before = last_audit_id()
    response = http.post(f"/plans/{draft.public_id}/sign/", {"version": draft.version - 1})
    assert response.status_code == 409
    assert _state() == state
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action, event.resource_id) == (
        "failure",
        "sign",
        str(draft.public_id),
    )
    assert event.reason == "failed: Conflict (409)"


# --- (c) outsiders ----------------------------------------------------------------------------


def test_another_programs_therapist_is_refused_a_signature_with_one_denied_event(
    tess: User, draft: TreatmentPlan, login_as: Login
) -> None:
    http = login_as(tess)
    state = _state()
    before = last_audit_id()
    response = http.post(f"/plans/{draft.public_id}/sign/", {"version": draft.version})
    assert response.status_code == 403
    assert _state() == state
    (event,) = audit_events_after(before)
    assert event.outcome == "denied" and event.actor_id == tess.public_id
    assert event.resource_id == str(draft.public_id)


def test_another_organisation_is_refused_a_draft_edit_with_one_denied_event(
    oscar: User, draft: TreatmentPlan, login_as: Login
) -> None:
    http = login_as(oscar)
    state = _state()
    before = last_audit_id()
    response = _put(
        http,
        f"/api/v1/plans/{draft.public_id}",
        {"version": draft.version, "content": complete_content()},
    )
    assert response.status_code == 404
    assert _state() == state
    (event,) = audit_events_after(before)
    assert event.outcome == "denied" and event.actor_id == oscar.public_id
    assert event.resource_id == str(draft.public_id)
