"""Each write to session notes leaves exactly one audit event (ADR 0015), through the pages and
the API as a signed-in persona:

- a successful write: one event, outcome success, with the access decision's role and reason,
  naming the record it wrote (the reads the route made to prepare it are not appended);
- a bad input or a stale version: nothing changes, and one failure event names the error's kind
  and fields — never what was submitted;
- an outsider: refused (403, or 404 across organisations), one denied event, nothing changes;
- opening an empty form for a new note records nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

from django.test import Client as HttpClient

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.encounters.models import NoteAddendum, SessionNote
from tests.encounters.conftest import DAP
from tests.helpers import audit_events_after, last_audit_id

Login = Callable[[User], HttpClient]


def _said(event: AuditEvent) -> str:
    """Everything an event says in its own words: where a submitted value could leak."""
    return json.dumps({"reason": event.reason, "detail": event.detail})


def _editor_form(note: SessionNote, **fields: object) -> dict[str, object]:
    return {
        "version": note.version,
        "session_date": note.session_date.isoformat(),
        "action": "save",
        **{f"dap__{k}": v for k, v in DAP["dap"].items()},
        **fields,
    }


# --- (d) an empty form ------------------------------------------------------------------------


def test_opening_the_new_note_form_records_nothing(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    page = http.get(f"/clients/{client_record.public_id}/notes/new/")
    assert page.status_code == 200
    assert audit_events_after(before) == []


# --- (a) a successful write -------------------------------------------------------------------


def test_a_new_note_through_the_page_leaves_one_success_event(
    theo: User, client_record: Client, yesterday: date, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(
        f"/clients/{client_record.public_id}/notes/new/",
        {"kind": "individual", "session_date": yesterday.isoformat()},
    )
    assert response.status_code == 302
    note = SessionNote.objects.get()
    decision = decide(
        theo, Action.CREATE, client_record, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
    )
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action) == ("success", "create")
    assert event.actor_role == decision.role == "therapist"
    assert event.reason == decision.reason
    assert (event.resource_type, event.resource_id) == ("session_note", str(note.public_id))
    assert event.client_id == client_record.public_id and event.actor_id == theo.public_id
    assert event.detail == {"kind": "individual"}


def test_saving_a_draft_through_the_editor_leaves_one_success_event(
    theo: User, draft: SessionNote, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(
        f"/notes/{draft.public_id}/", _editor_form(draft, dap__data="Three cravings.")
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.version == 2 and draft.content["dap"]["data"] == "Three cravings."
    decision = decide(theo, Action.UPDATE, draft, draft.data_category, Purpose.TREATMENT)
    (event,) = audit_events_after(
        before
    )  # the editor's read of the note is named by the write's event
    assert (event.outcome, event.action, event.resource_id) == (
        "success",
        "update",
        str(draft.public_id),
    )
    assert (event.actor_role, event.reason) == (decision.role, decision.reason)
    assert "Three cravings" not in _said(event)


def test_an_addendum_through_the_api_leaves_one_success_event(
    theo: User, signed: SessionNote, login_as: Login
) -> None:
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(
        f"/api/v1/notes/{signed.public_id}/addenda",
        {"text": "Phone call afterwards."},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert NoteAddendum.objects.filter(note=signed).count() == 1
    decision = decide(theo, Action.UPDATE, signed, signed.data_category, Purpose.TREATMENT)
    # The route reads the note again to answer; that read is the write's too.
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action, event.resource_id) == (
        "success",
        "update",
        str(signed.public_id),
    )
    assert (event.actor_role, event.reason) == (decision.role, decision.reason)
    assert event.detail == {"addendum": True}
    assert "Phone call" not in _said(event)


def test_group_notes_are_one_write_naming_every_note(
    theo: User, client_record: Client, yesterday: date, login_as: Login
) -> None:
    other = Client.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        record_number="T-0201",
        legal_given_name="Ash",
        legal_family_name="Samplewood",
        date_of_birth=date(1985, 1, 2),
    )
    http = login_as(theo)
    before = last_audit_id()
    response = http.post(
        "/api/v1/group-notes",
        {
            "clients": [str(client_record.public_id), str(other.public_id)],
            "session_date": yesterday.isoformat(),
            "shared": "Relapse prevention skills.",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    first = SessionNote.objects.get(client=client_record)
    second = SessionNote.objects.get(client=other)
    (event,) = [e for e in audit_events_after(before) if e.action == "create"]
    assert event.outcome == "success" and event.resource_id == str(first.public_id)
    assert event.detail["kind"] == "group" and event.detail["attendees"] == 2
    assert [(a["action"], a["resource_id"]) for a in event.detail["also"]] == [
        ("create", str(second.public_id))
    ]
    assert "Relapse prevention" not in _said(event)


# --- (b) a bad input or a stale version -------------------------------------------------------


def test_a_stale_draft_save_changes_nothing_and_leaves_one_failure_event(
    theo: User, draft: SessionNote, login_as: Login
) -> None:
    http = login_as(theo)
    assert http.post(f"/notes/{draft.public_id}/", _editor_form(draft)).status_code == 302
    draft.refresh_from_db()
    stored = (draft.version, draft.content)
    before = last_audit_id()
    stale = http.post(
        f"/notes/{draft.public_id}/",
        _editor_form(draft, version=1, dap__data="From the second tab."),
    )
    assert stale.status_code == 409
    draft.refresh_from_db()
    assert (draft.version, draft.content) == stored
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action, event.resource_id) == (
        "failure",
        "update",
        str(draft.public_id),
    )
    assert event.reason == "failed: NoteConflict (409)"
    assert event.actor_role == "therapist"
    assert "second tab" not in _said(event)


def test_a_future_session_date_changes_nothing_and_leaves_one_failure_event(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    before = last_audit_id()
    response = http.post(
        f"/api/v1/clients/{client_record.public_id}/notes",
        {"kind": "individual", "session_date": tomorrow},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert not SessionNote.objects.exists()
    (event,) = audit_events_after(before)
    assert (event.outcome, event.action, event.client_id) == (
        "failure",
        "create",
        client_record.public_id,
    )
    assert event.reason == "failed: InvalidInput (422); fields: session_date"
    assert tomorrow not in _said(event)


# --- (c) outsiders ----------------------------------------------------------------------------


def test_another_programs_therapist_is_refused_an_addendum_with_one_denied_event(
    tess: User, signed: SessionNote, login_as: Login
) -> None:
    http = login_as(tess)
    before = last_audit_id()
    response = http.post(f"/notes/{signed.public_id}/addendum/", {"text": "Not mine to add."})
    assert response.status_code == 403
    assert not NoteAddendum.objects.exists()
    (event,) = audit_events_after(before)
    assert event.outcome == "denied" and event.actor_id == tess.public_id
    assert event.resource_id == str(signed.public_id)
    assert "Not mine" not in _said(event)


def test_another_organisation_is_refused_a_new_note_with_one_denied_event(
    oscar: User, client_record: Client, yesterday: date, login_as: Login
) -> None:
    http = login_as(oscar)
    before = last_audit_id()
    response = http.post(
        f"/api/v1/clients/{client_record.public_id}/notes",
        {"kind": "individual", "session_date": yesterday.isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert not SessionNote.objects.exists()
    (event,) = audit_events_after(before)
    assert event.outcome == "denied" and event.actor_id == oscar.public_id
    assert event.client_id == client_record.public_id
