"""Each write to the IPT record leaves exactly one audit event (ADR 0015), through the pages and
the API as a signed-in persona:

- a successful write: one event, outcome success, with the access decision's role and reason,
  naming the row it wrote (the page's read of the record that prepared it is not appended);
- a bad input or a stale version: nothing changes, and one failure event names the error's kind
  and fields — never what was submitted;
- an outsider: refused (403, or 404 across organisations), one denied event, nothing changes.

The IPT page's forms sit on the record's own page, which shows the record: there is no empty
form of its own to open, so there is no "opening records nothing" case here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Episode
from iptcare.core.errors import Forbidden, InvalidInput
from iptcare.core.models import Program
from iptcare.ipt import services
from iptcare.ipt.models import (
    Formulation,
    PhaseBoundaries,
    PhaseOverride,
    TreatmentContract,
)
from tests.helpers import audit_events_after, last_audit_id

Login = Callable[[User], HttpClient]
CLINICAL = DataCategory.CLINICAL_RECORD


def _said(event: AuditEvent) -> str:
    """Everything an event says in its own words: where a submitted value could leak."""
    return json.dumps({"reason": event.reason, "detail": event.detail})


def _page(episode: Episode) -> str:
    return f"/episodes/{episode.public_id}/ipt/"


def _api(episode: Episode) -> str:
    return f"/api/v1/episodes/{episode.public_id}/ipt"


def _json(http: HttpClient, method: str, url: str, body: dict[str, Any]) -> Any:
    return getattr(http, method)(url, data=json.dumps(body), content_type="application/json")


# --- (a) a successful write -------------------------------------------------------------------


def test_a_formulation_through_the_page_leaves_one_success_event(
    theo: User, episode: Episode, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(
        _page(episode) + "formulation/", {"text": "Mood follows the rows.", "based_on": 0}
    )
    assert response.status_code == 302
    row = Formulation.objects.get()
    decision = decide(theo, Action.CREATE, episode, CLINICAL, Purpose.TREATMENT)
    (event,) = audit_events_after(
        before
    )  # the page's read of the record is named by the write's event
    assert (event.outcome, event.action) == ("success", "create")
    assert (event.resource_type, event.resource_id) == ("formulation", str(row.public_id))
    assert event.client_id == episode.client.public_id
    assert event.actor_role == decision.role == "therapist"
    assert event.reason == decision.reason
    assert event.detail == {"of": "ipt_formulation", "version": 1}
    assert "Mood follows" not in _said(event)


def test_a_contract_through_the_api_leaves_one_success_event(
    theo: User, episode: Episode, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = _json(
        http, "put", _api(episode) + "/contract", {"start_date": "2025-01-06", "based_on": 0}
    )
    assert response.status_code == 200, response.content
    row = TreatmentContract.objects.get()
    decision = decide(theo, Action.CREATE, episode, CLINICAL, Purpose.TREATMENT)
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action) == ("success", "create")
    assert (event.resource_type, event.resource_id) == ("treatmentcontract", str(row.public_id))
    assert (event.actor_role, event.reason) == (decision.role, decision.reason)
    assert event.detail == {"of": "ipt_contract", "version": 1}


def test_phase_boundaries_leave_one_success_event(alice: User, northside: Program) -> None:
    before = last_audit_id()
    services.phase_boundaries_set(
        actor=alice, program=northside, initial_sessions=4, termination_sessions=2
    )
    decision = decide(
        alice, Action.UPDATE, northside, DataCategory.ORGANISATION, Purpose.ADMINISTRATION
    )
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action, event.data_category) == (
        "success",
        "update",
        "organisation",
    )
    assert (event.actor_role, event.reason) == (decision.role, decision.reason)
    assert event.detail == {
        "of": "ipt_phase_boundaries",
        "initial_sessions": 4,
        "termination_sessions": 2,
    }


# --- (b) a bad input or a stale version -------------------------------------------------------


def test_a_stale_formulation_changes_nothing_and_leaves_one_failure_event(
    theo: User, episode: Episode, login_as: Login
) -> None:
    services.formulation_save(actor=theo, episode=episode, text="First version.")
    http = login_as(theo)
    before = last_audit_id()
    response = _json(
        http,
        "post",
        _api(episode) + "/formulation",
        {"text": "A rewrite from a stale tab.", "based_on": 0},
    )
    assert response.status_code == 409
    assert list(Formulation.objects.values_list("text", flat=True)) == ["First version."]
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action, event.resource_type) == (
        "failure",
        "create",
        "episode",
    )
    assert event.reason == "failed: Conflict (409)"
    assert event.actor_role == "therapist"
    assert "stale tab" not in _said(event)


def test_an_override_without_a_reason_changes_nothing_and_leaves_one_failure_event(
    theo: User, episode: Episode, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = _json(
        http, "put", _api(episode) + "/phase/override", {"phase": "termination", "reason": " "}
    )
    assert response.status_code == 422, response.content
    assert not PhaseOverride.objects.exists()
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action) == ("failure", "update")
    assert event.reason == "failed: InvalidInput (422); fields: reason"
    assert event.detail == {"of": "ipt_phase_override"}
    assert "termination" not in _said(event)


def test_out_of_range_boundaries_change_nothing_and_leave_one_failure_event(
    alice: User, northside: Program
) -> None:
    before = last_audit_id()
    with pytest.raises(InvalidInput):
        services.phase_boundaries_set(
            actor=alice, program=northside, initial_sessions=0, termination_sessions=9
        )
    assert not PhaseBoundaries.objects.exists()
    (event,) = audit_events_after(before)
    assert event.outcome == "failure"
    assert event.reason == (
        "failed: InvalidInput (422); fields: initial_sessions, termination_sessions"
    )
    assert event.detail == {"of": "ipt_phase_boundaries"}


# --- (c) outsiders ----------------------------------------------------------------------------


def test_another_programs_therapist_is_refused_a_formulation_with_one_denied_event(
    tess: User, episode: Episode, login_as: Login
) -> None:
    http = login_as(tess)
    before = last_audit_id()
    response = http.post(_page(episode) + "formulation/", {"text": "Not mine.", "based_on": 0})
    assert response.status_code == 403
    assert not Formulation.objects.exists()
    (event,) = audit_events_after(before)
    assert event.outcome == "denied" and event.actor_id == tess.public_id
    assert event.client_id == episode.client.public_id


def test_another_organisation_is_refused_a_contract_with_one_denied_event(
    oscar: User, episode: Episode, login_as: Login
) -> None:
    http = login_as(oscar)
    before = last_audit_id()
    response = _json(
        http, "put", _api(episode) + "/contract", {"start_date": "2025-01-06", "based_on": 0}
    )
    assert response.status_code == 404
    assert not TreatmentContract.objects.exists()
    (event,) = audit_events_after(before)
    assert event.outcome == "denied" and event.actor_id == oscar.public_id
    assert event.client_id == episode.client.public_id


def test_a_non_administrator_is_refused_phase_boundaries_with_one_denied_event(
    theo: User, northside: Program
) -> None:
    before = last_audit_id()
    with pytest.raises(Forbidden):
        services.phase_boundaries_set(
            actor=theo, program=northside, initial_sessions=4, termination_sessions=2
        )
    assert not PhaseBoundaries.objects.exists()
    (event,) = audit_events_after(before)
    assert event.outcome == "denied" and event.actor_id == theo.public_id
