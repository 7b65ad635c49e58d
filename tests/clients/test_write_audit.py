"""Each write of the clinical record leaves exactly one audit event, through the pages and the
API as a persona uses them (ADR 0015, ``access.policy.writing``):

- a successful write: one event, outcome success, with the decision's role and reason;
- bad input or a stale version: nothing changes, and one failure event names the error's kind
  and the fields — never the submitted value;
- an outsider: refused (403/404), one denied event, nothing changes;
- opening an empty form to create something records nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.test import Client as HttpClient

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients import services
from iptcare.clients.models import Client, Diagnosis, Episode, SudAssessment
from iptcare.core.models import Program
from tests.clients.conftest import REFERRED_ON
from tests.helpers import audit_events_after, last_audit_id

Login = Callable[[User], HttpClient]
# A value no event may carry: submitted where it is refused.
SECRET = "Marker-7f3a"


def post_json(http: HttpClient, url: str, body: dict[str, Any], method: str = "post") -> Any:
    return getattr(http, method)(
        url, data=json.dumps(body, default=str), content_type="application/json"
    )


def only_event(before: int) -> AuditEvent:
    events = audit_events_after(before)
    assert len(events) == 1, [(e.action, e.outcome, e.resource_type, e.reason) for e in events]
    return events[0]


def assert_no_value(event: AuditEvent, value: str) -> None:
    assert value not in event.reason and value not in json.dumps(event.detail)


def client_state() -> list[tuple[Any, ...]]:
    return list(Client.objects.order_by("id").values_list("version", "city", "email"))


def edit_form(client: Client, **changes: Any) -> dict[str, Any]:
    return {
        "legal_given_name": client.legal_given_name,
        "legal_family_name": client.legal_family_name,
        "date_of_birth": client.date_of_birth.isoformat(),
        "record_number": client.record_number,
        "version": client.version,
        **changes,
    }


# --- registering a client ------------------------------------------------------------------------


NEW_CLIENT = {
    "legal_given_name": "Nova",
    "legal_family_name": "Quill",
    "date_of_birth": "1991-01-01",
}


def test_registering_a_client_leaves_one_success_event(
    login_as: Login, theo: User, northside: Program
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    created = post_json(http, "/api/v1/clients", NEW_CLIENT | {"program": str(northside.public_id)})
    assert created.status_code == 201
    event = only_event(before)
    decision = decide(theo, Action.CREATE, northside, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    new_id = created.json()["id"]
    assert (event.action, event.outcome, event.data_category) == (
        "create",
        "success",
        "demographics",
    )
    assert (
        (event.actor_role, event.reason)
        == (decision.role, decision.reason)
        == (
            "therapist",
            "Therapist may create demographics",
        )
    )
    # Decided on the program; the event names the client it registered.
    assert (event.resource_type, event.resource_id, str(event.client_id)) == (
        "client",
        new_id,
        new_id,
    )
    assert event.detail == {"confirmed_duplicate": False}


def test_registering_with_bad_input_leaves_one_failure_event_without_the_value(
    login_as: Login, theo: User, northside: Program
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    bad = post_json(
        http,
        "/api/v1/clients",
        NEW_CLIENT | {"program": str(northside.public_id), "email": SECRET},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
    assert not Client.objects.exists()
    event = only_event(before)
    assert (event.action, event.outcome, event.actor_role) == ("create", "failure", "therapist")
    assert event.reason == "failed: InvalidInput (422); fields: email"
    assert (event.resource_type, event.resource_id) == ("program", str(northside.public_id))
    assert_no_value(event, SECRET)


def test_a_possible_duplicate_is_a_failure_until_confirmed(
    login_as: Login, theo: User, northside: Program, client_record: Client
) -> None:
    http = login_as(theo)
    body = {
        "program": str(northside.public_id),
        "legal_given_name": "Wren",
        "legal_family_name": "Testbrook",
        "date_of_birth": "1990-05-17",
    }
    before = last_audit_id()
    assert post_json(http, "/api/v1/clients", body).status_code == 409
    event = only_event(before)
    assert event.outcome == "failure"
    assert event.reason == "failed: DuplicateClientWarning (409); fields: confirm_duplicate"
    assert Client.objects.count() == 1
    before = last_audit_id()
    created = post_json(http, "/api/v1/clients", body | {"confirm_duplicate": True})
    assert created.status_code == 201
    event = only_event(before)
    assert event.outcome == "success" and event.detail == {"confirmed_duplicate": True}


def test_registering_in_another_program_is_refused_with_one_denied_event(
    login_as: Login, tess: User, northside: Program
) -> None:
    http = login_as(tess)
    before = last_audit_id()
    refused = post_json(http, "/api/v1/clients", NEW_CLIENT | {"program": str(northside.public_id)})
    assert refused.status_code == 403
    assert not Client.objects.exists()
    event = only_event(before)
    assert (event.action, event.outcome, event.resource_id) == (
        "create",
        "denied",
        str(northside.public_id),
    )
    assert event.reason == "Therapist is not assigned to this program"


def test_opening_the_empty_registration_form_records_nothing(
    login_as: Login, theo: User, northside: Program
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    assert http.get("/clients/new/").status_code == 200
    assert audit_events_after(before) == []


# --- editing a client ---------------------------------------------------------------------------


def test_editing_a_client_leaves_one_success_event(
    login_as: Login, theo: User, client_record: Client
) -> None:
    http = login_as(theo)
    url = f"/clients/{client_record.public_id}/edit/"
    before = last_audit_id()
    assert http.post(url, edit_form(client_record, city="Springfield")).status_code == 302
    # The edit page's lookup of the client is not a second event: the write names it.
    event = only_event(before)
    decision = decide(
        theo, Action.UPDATE, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    )
    assert (event.action, event.outcome, event.actor_role, event.reason) == (
        "update",
        "success",
        decision.role,
        decision.reason,
    )
    assert (event.resource_type, event.resource_id) == ("client", str(client_record.public_id))
    assert event.detail == {"fields": ["city"], "version": 2}


def test_a_stale_edit_changes_nothing_and_leaves_one_failure_event(
    login_as: Login, theo: User, client_record: Client
) -> None:
    http = login_as(theo)
    url = f"/clients/{client_record.public_id}/edit/"
    assert http.post(url, edit_form(client_record, city="Springfield")).status_code == 302
    state = client_state()
    before = last_audit_id()
    stale = http.post(url, edit_form(client_record, city=SECRET))  # still version 1
    assert stale.status_code == 409
    assert client_state() == state
    event = only_event(before)
    assert (event.action, event.outcome) == ("update", "failure")
    assert event.reason == "failed: Conflict (409)"
    assert_no_value(event, SECRET)


def test_an_edit_with_a_bad_email_changes_nothing_and_names_the_field(
    login_as: Login, theo: User, client_record: Client
) -> None:
    http = login_as(theo)
    state = client_state()
    before = last_audit_id()
    bad = post_json(
        http,
        f"/api/v1/clients/{client_record.public_id}",
        {
            "legal_given_name": "Wren",
            "legal_family_name": "Testbrook",
            "date_of_birth": "1990-05-17",
            "version": 1,
            "email": SECRET,
        },
        "put",
    )
    assert bad.status_code == 422
    assert client_state() == state
    event = only_event(before)
    assert event.reason == "failed: InvalidInput (422); fields: email"
    assert_no_value(event, SECRET)


def test_an_outsider_cannot_edit_and_leaves_one_denied_event(
    login_as: Login, tess: User, oscar: User, client_record: Client
) -> None:
    state = client_state()
    for persona, status in ((tess, 403), (oscar, 404)):
        http = login_as(persona)
        before = last_audit_id()
        response = http.post(
            f"/clients/{client_record.public_id}/edit/", edit_form(client_record, city=SECRET)
        )
        assert response.status_code == status
        event = only_event(before)
        assert (event.outcome, event.actor_id) == ("denied", persona.public_id)
        assert_no_value(event, SECRET)
    assert client_state() == state


# --- episodes -----------------------------------------------------------------------------------

ADMISSION = {
    "level_of_care": "2.1",
    "substance_1": "heroin",
    "route_1": "injection",
    "frequency_1": "daily",
    "version": 1,
}


def test_admitting_leaves_one_success_event(login_as: Login, theo: User, referred: Episode) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(
        f"/episodes/{referred.public_id}/admit/",
        ADMISSION | {"admission_date": REFERRED_ON + timedelta(days=1)},
    )
    assert response.status_code == 302, response.content.decode()
    event = only_event(before)
    decision = decide(
        theo, Action.UPDATE, referred, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
    )
    assert (event.action, event.outcome, event.actor_role, event.reason) == (
        "update",
        "success",
        decision.role,
        decision.reason,
    )
    assert (event.resource_type, event.resource_id) == ("episode", str(referred.public_id))
    assert event.detail == {
        "transition": "admit",
        "from": "referred",
        "to": "admitted",
        "level_of_care": "2.1",
    }


def test_an_admission_before_the_referral_changes_nothing_and_names_the_field(
    login_as: Login, theo: User, referred: Episode
) -> None:
    too_early = REFERRED_ON - timedelta(days=3)
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(
        f"/episodes/{referred.public_id}/admit/", ADMISSION | {"admission_date": too_early}
    )
    assert response.status_code == 400
    stored = Episode.objects.get(pk=referred.pk)
    assert (stored.status, stored.version, stored.admission_date) == ("referred", 1, None)
    event = only_event(before)
    assert (event.action, event.outcome) == ("update", "failure")
    assert event.reason == "failed: InvalidInput (422); fields: admission_date"
    assert event.detail == {"transition": "admit"}
    assert_no_value(event, too_early.isoformat())


def test_an_outsider_cannot_refer_and_leaves_one_denied_event(
    login_as: Login, tess: User, client_record: Client
) -> None:
    http = login_as(tess)
    before = last_audit_id()
    response = post_json(
        http,
        f"/api/v1/clients/{client_record.public_id}/episodes",
        {"referral_date": str(REFERRED_ON), "referral_source": "school"},
    )
    assert response.status_code == 403
    assert not Episode.objects.exists()
    assert only_event(before).outcome == "denied"


def test_opening_the_empty_referral_form_records_nothing(
    login_as: Login, theo: User, client_record: Client
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    assert http.get(f"/clients/{client_record.public_id}/episodes/new/").status_code == 200
    assert audit_events_after(before) == []


# --- intake -------------------------------------------------------------------------------------


def test_recording_a_checklist_leaves_one_success_event_naming_it(
    login_as: Login, theo: User, admitted: Episode
) -> None:
    http = login_as(theo)
    url = f"/episodes/{admitted.public_id}/sud-assessments/new/"
    before = last_audit_id()
    assert http.get(url).status_code == 200  # an empty form: nothing recorded
    assert audit_events_after(before) == []
    response = http.post(url, {"substance_class": "opioid", "craving": "on", "cut_down": "on"})
    assert response.status_code == 302
    assessment = SudAssessment.objects.get()
    event = only_event(before)
    assert (event.action, event.outcome, event.actor_role) == ("create", "success", "therapist")
    assert (event.resource_type, event.resource_id, event.client_id) == (
        "sudassessment",
        str(assessment.public_id),
        admitted.client.public_id,
    )
    assert event.detail == {
        "episode": str(admitted.public_id),
        "count": 2,
        "severity": "mild",
    }


def test_marking_a_diagnosis_in_error_with_a_stale_version_changes_nothing(
    login_as: Login, theo: User, client_record: Client
) -> None:
    diagnosis = services.diagnosis_add(
        actor=theo, client=client_record, code="F41.1", description="GAD"
    )
    http = login_as(theo)
    url = f"/api/v1/diagnoses/{diagnosis.public_id}/entered-in-error"
    before = last_audit_id()
    stale = post_json(http, url, {"version": 7, "reason": SECRET})
    assert stale.status_code == 409
    assert not Diagnosis.objects.get().entered_in_error
    event = only_event(before)
    assert (event.action, event.outcome, event.reason) == (
        "update",
        "failure",
        "failed: Conflict (409)",
    )
    assert_no_value(event, SECRET)
    before = last_audit_id()
    done = post_json(http, url, {"version": 1, "reason": SECRET})
    assert done.status_code == 200 and done.json()["entered_in_error"] is True
    event = only_event(before)
    assert (event.outcome, event.resource_id) == ("success", str(diagnosis.public_id))
    assert_no_value(event, SECRET)  # the reason is kept in the record, not in the trail


def test_a_diagnosis_outside_the_actors_programs_is_refused_with_one_denied_event(
    login_as: Login, tess: User, client_record: Client
) -> None:
    http = login_as(tess)
    before = last_audit_id()
    response = post_json(
        http,
        f"/api/v1/clients/{client_record.public_id}/diagnoses",
        {"code": "F32.1", "description": "x"},
    )
    assert response.status_code == 403
    assert not Diagnosis.objects.exists()
    assert only_event(before).outcome == "denied"
