"""Session-note routes through their public interface: the pages (Django test client, signed in
with a verified second factor) and the JSON API under /api/v1/ (bearer token).

1. Outsiders are refused on every note route the existing outsider test does not reach, with
   the statuses that test expects (``test_outsiders_are_refused_everywhere`` in test_notes.py):
   tess (therapist in another program) and remy (researcher) get 403, oscar (another
   organisation) gets 404 — another tenant's records do not exist. Every refused request,
   GET or POST, leaves the notes, addenda and amendment requests exactly as they were.

   Already covered there, so left out here (API only): GET /api/v1/notes/{id},
   GET+POST /api/v1/clients/{client}/notes, PUT /api/v1/notes/{id}/draft, POST
   /api/v1/notes/{id}/sign, /addenda, /cosign and /entered-in-error. POST /api/v1/group-notes is
   refused for tess in ``test_group_notes_api_and_page`` but not for remy or oscar, so it is
   covered here for all three. The generic URL walk (tests/test_url_walk.py) only tries made-up
   ids, so no note page had an outsider test on a real note before this module.

2. Happy paths through the pages: co-signature, entered in error, amendment requests (recorded,
   accepted, denied — ONC 170.315(d)(4): a denial appends the request and the denial).

3. Happy paths through the API: create, save a draft, sign (and 409 on a stale version),
   addendum, co-sign, entered in error, amendment request and its decision.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.encounters import services
from iptcare.encounters.models import (
    AddendumKind,
    AmendmentRequest,
    AmendmentStatus,
    NoteAddendum,
    NoteStatus,
    SessionNote,
)
from iptcare.scheduling import services as scheduling
from iptcare.scheduling.models import GroupSession
from tests.encounters.conftest import DAP
from tests.encounters.test_notes import _api

OUTSIDERS = ["tess", "remy", "oscar"]


def _refusal(persona: str) -> int:
    """The status test_notes.py expects: NotFound across organisations, Forbidden within."""
    return 404 if persona == "oscar" else 403


def _state() -> dict[str, Any]:
    """Everything a note route could change."""
    return {
        "notes": list(
            SessionNote.objects.order_by("pk").values_list(
                "public_id",
                "status",
                "version",
                "content",
                "session_date",
                "signed_digest",
                "cosigned_by_id",
                "entered_in_error_at",
                "entered_in_error_reason",
            )
        ),
        "addenda": list(NoteAddendum.objects.order_by("pk").values_list("note_id", "kind", "text")),
        "amendments": list(
            AmendmentRequest.objects.order_by("pk").values_list(
                "note_id", "requested_change", "status", "decided_by_id", "addendum_id"
            )
        ),
    }


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def pending(tina: User, client_record: Client, yesterday: date) -> SessionNote:
    """A trainee's signed note, awaiting a supervisor's co-signature."""
    note = services.note_create(
        actor=tina, client=client_record, kind="individual", session_date=yesterday, content=DAP
    )
    return services.note_sign(actor=tina, note=note, version=note.version)


@pytest.fixture
def amendment(theo: User, signed: SessionNote) -> AmendmentRequest:
    """A client's pending request to amend theo's signed note."""
    return services.amendment_request_record(
        actor=theo, note=signed, requested_change="I said two cravings, not three."
    )


@pytest.fixture
def group_session(theo: User, client_record: Client) -> GroupSession:
    """A Northside group that met an hour ago; Wren attended."""
    session = scheduling.group_session_create(
        actor=theo,
        program=client_record.program,
        title="Coping skills",
        facilitator=theo,
        starts_at=timezone.now() - timedelta(hours=1),
        duration_minutes=90,
        modality="cbt",
    )
    scheduling.group_roster_add(actor=theo, session=session, client=client_record)
    scheduling.group_record_attendance(
        actor=theo, session=session, attendance={client_record.public_id: "attended"}
    )
    return session


@pytest.fixture
def ids(
    draft: SessionNote,
    signed: SessionNote,
    pending: SessionNote,
    amendment: AmendmentRequest,
    group_session: GroupSession,
    client_record: Client,
) -> dict[str, str]:
    """Real ids for the route templates below. ``signed`` is ``draft`` once signed, so a fresh
    draft is written too (dated two days back so it is told apart in the editor form)."""
    fresh_draft = services.note_create(
        actor=draft.author,
        client=client_record,
        kind="individual",
        session_date=date.today() - timedelta(days=2),
        content={"dap": {"data": "Still being written."}},
    )
    return {
        "draft": str(fresh_draft.public_id),
        "signed": str(signed.public_id),
        "pending": str(pending.public_id),
        "request": str(amendment.public_id),
        "session": str(group_session.public_id),
        "client": str(client_record.public_id),
        "yesterday": (date.today() - timedelta(days=1)).isoformat(),
    }


# --- 1. outsiders are refused ------------------------------------------------------------------

# (method, route, form data). Valid data, so that a refusal is the access policy's.
PAGES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/notes/{signed}/", None),
    ("get", "/notes/{draft}/", None),
    ("post", "/notes/{signed}/", {"action": "save"}),
    (
        "post",
        "/notes/{draft}/",
        {
            "version": 1,
            "session_date": "{yesterday}",
            "dap__data": "Rewritten by an outsider.",
            "dap__assessment": "x",
            "dap__plan": "x",
            "action": "sign",
        },
    ),
    ("post", "/notes/{signed}/addendum/", {"text": "An outsider's addendum."}),
    ("post", "/notes/{pending}/cosign/", {}),
    ("post", "/notes/{signed}/entered-in-error/", {"reason": "An outsider's reason."}),
    ("post", "/notes/{signed}/amendment-requests/", {"requested_change": "Delete it all."}),
    ("post", "/amendment-requests/{request}/decision/", {"decision": "accept", "reason": ""}),
    (
        "post",
        "/amendment-requests/{request}/decision/",
        {"decision": "deny", "reason": "Denied by an outsider."},
    ),
    ("get", "/groups/{session}/notes/", None),
    ("post", "/groups/{session}/notes/", {"shared": "An outsider's group note."}),
    ("get", "/clients/{client}/notes/new/", None),
    (
        "post",
        "/clients/{client}/notes/new/",
        {"kind": "individual", "session_date": "{yesterday}"},
    ),
]

API: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/notes/{signed}/amendment-requests", {"requested_change": "Delete it all."}),
    ("/api/v1/amendment-requests/{request}/decision", {"accept": True}),
    ("/api/v1/amendment-requests/{request}/decision", {"accept": False, "reason": "No."}),
    (
        "/api/v1/group-notes",
        {"clients": ["{client}"], "session_date": "{yesterday}", "shared": "Outsider's group."},
    ),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("persona", OUTSIDERS)
@pytest.mark.parametrize(
    ("method", "route", "data"), PAGES, ids=[f"{m.upper()} {r}" for m, r, _ in PAGES]
)
def test_outsiders_are_refused_on_every_note_page(
    request: pytest.FixtureRequest,
    login_as: Callable[[User], HttpClient],
    ids: dict[str, str],
    persona: str,
    method: str,
    route: str,
    data: dict[str, Any] | None,
) -> None:
    http = login_as(request.getfixturevalue(persona))
    before = _state()
    url = route.format(**ids)
    response = http.get(url) if method == "get" else http.post(url, _fill(data, ids))
    assert response.status_code == _refusal(persona), (persona, method, url)
    body = response.content.decode()
    assert "Testbrook" not in body and "two cravings" not in body  # nothing of the record leaks
    assert _state() == before


@pytest.mark.parametrize("persona", OUTSIDERS)
@pytest.mark.parametrize(("route", "body"), API, ids=[f"POST {r}" for r, _ in API])
def test_outsiders_are_refused_on_the_note_api(
    request: pytest.FixtureRequest,
    ids: dict[str, str],
    persona: str,
    route: str,
    body: dict[str, Any],
) -> None:
    before = _state()
    response = HttpClient().post(
        route.format(**ids),
        _fill(body, ids),
        content_type="application/json",
        **_api(request.getfixturevalue(persona)),
    )
    assert response.status_code == _refusal(persona), (persona, route, response.content)
    assert response["Content-Type"] == "application/problem+json"
    assert _state() == before


# --- 2. happy paths through the pages ----------------------------------------------------------


def test_supervisor_cosigns_a_trainee_note_through_the_page(
    sue: User, pending: SessionNote, login_as: Callable[[User], HttpClient]
) -> None:
    assert pending.status == NoteStatus.PENDING_COSIGN
    http = login_as(sue)
    page = http.get(f"/notes/{pending.public_id}/")
    assert page.status_code == 200
    assert f'action="/notes/{pending.public_id}/cosign/"' in page.content.decode()
    response = http.post(f"/notes/{pending.public_id}/cosign/")
    assert response.status_code == 302 and response["Location"] == f"/notes/{pending.public_id}/"
    note = SessionNote.objects.select_related("client", "author").get(pk=pending.pk)
    assert note.status == NoteStatus.FINAL
    assert note.cosigned_by == sue and note.cosigned_at is not None
    assert note.content == DAP and note.digest_ok
    after = http.get(f"/notes/{pending.public_id}/").content.decode()
    assert "co-signed by Sue" in after and "/cosign/" not in after


def test_entered_in_error_page_needs_a_reason_then_keeps_the_note(
    theo: User, signed: SessionNote, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)
    url = f"/notes/{signed.public_id}/entered-in-error/"
    before = _state()

    empty = http.post(url, {"reason": ""})
    assert empty.status_code == 400
    html = empty.content.decode()
    # The refusal belongs at the reason field (the service names the field, and every other
    # form in iptcare, e.g. a diagnosis's entered-in-error page, shows it there), not only as a
    # message at the top of the page.
    assert 'id="id_reason_error"' in html, "no field error at the reason field"
    assert _state() == before

    marked = http.post(url, {"reason": "Written in the wrong client's chart."})
    assert marked.status_code == 302 and marked["Location"] == f"/notes/{signed.public_id}/"
    note = SessionNote.objects.select_related("client", "author").get(pk=signed.pk)
    assert note.is_entered_in_error and note.entered_in_error_by == theo
    assert note.entered_in_error_reason == "Written in the wrong client's chart."
    assert note.content == DAP and note.digest_ok and note.status == NoteStatus.FINAL
    page = http.get(f"/notes/{signed.public_id}/")
    assert page.status_code == 200
    assert "Entered in error by Theo" in page.content.decode()
    assert "wrong client&#x27;s chart" in page.content.decode()


def test_amendment_request_is_recorded_through_the_page(
    theo: User, signed: SessionNote, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)
    url = f"/notes/{signed.public_id}/amendment-requests/"
    empty = http.post(url, {"requested_change": "  "})
    assert empty.status_code == 400 and not AmendmentRequest.objects.exists()

    response = http.post(url, {"requested_change": "My sister's name is Ada, not Ida."})
    assert response.status_code == 302 and response["Location"] == f"/notes/{signed.public_id}/"
    req = AmendmentRequest.objects.get()
    assert req.note_id == signed.pk and req.status == AmendmentStatus.PENDING
    assert req.received_by == theo and req.requested_change == "My sister's name is Ada, not Ida."
    page = http.get(f"/notes/{signed.public_id}/").content.decode()
    assert "not Ida" in page and f'action="/amendment-requests/{req.public_id}/decision/"' in page
    assert not NoteAddendum.objects.exists()  # recording a request appends nothing yet


def test_accepted_amendment_is_appended_through_the_page(
    theo: User,
    signed: SessionNote,
    amendment: AmendmentRequest,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(theo)
    events = AuditEvent.objects.filter(resource_id=str(signed.public_id))
    before = events.count()
    response = http.post(
        f"/amendment-requests/{amendment.public_id}/decision/", {"decision": "accept"}
    )
    assert response.status_code == 302 and response["Location"] == f"/notes/{signed.public_id}/"
    # One event: the decision's (a signature on the note); the route's read of the note, which
    # prepared it, is named by that event and not appended on its own.
    (event,) = events.order_by("id")[before:]
    assert (event.action, event.outcome) == ("sign", "success")
    assert event.detail == {"amendment": "accepted", "amendment_request": str(amendment.public_id)}
    amendment.refresh_from_db()
    assert amendment.status == AmendmentStatus.ACCEPTED and amendment.decided_by == theo
    (addendum,) = NoteAddendum.objects.filter(note=signed)
    assert amendment.addendum == addendum and addendum.kind == AddendumKind.AMENDMENT
    assert "I said two cravings, not three." in addendum.text
    signed.refresh_from_db()
    assert signed.content == DAP and signed.digest_ok  # appended, never edited
    page = http.get(f"/notes/{signed.public_id}/").content.decode()
    assert 'data-testid="addendum"' in page and "not three" in page
    again = http.post(
        f"/amendment-requests/{amendment.public_id}/decision/", {"decision": "accept"}
    )
    assert again.status_code == 400 and NoteAddendum.objects.count() == 1


def test_denied_amendment_appends_request_and_denial_through_the_page(
    theo: User,
    signed: SessionNote,
    amendment: AmendmentRequest,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(theo)
    url = f"/amendment-requests/{amendment.public_id}/decision/"
    before = _state()
    no_reason = http.post(url, {"decision": "deny", "reason": ""})
    assert no_reason.status_code == 400
    assert "A denial needs its reason" in no_reason.content.decode()
    assert _state() == before

    response = http.post(url, {"decision": "deny", "reason": "Three cravings were recorded."})
    assert response.status_code == 302 and response["Location"] == f"/notes/{signed.public_id}/"
    amendment.refresh_from_db()
    assert amendment.status == AmendmentStatus.DENIED
    assert amendment.decision_reason == "Three cravings were recorded."
    (addendum,) = NoteAddendum.objects.filter(note=signed)
    assert amendment.addendum == addendum and addendum.kind == AddendumKind.AMENDMENT_DENIED
    assert "I said two cravings, not three." in addendum.text  # the request ...
    assert "Three cravings were recorded." in addendum.text  # ... and the denial
    signed.refresh_from_db()
    assert signed.content == DAP and signed.digest_ok
    page = http.get(f"/notes/{signed.public_id}/").content.decode()
    assert "Amendment request denied" in page and "Three cravings were recorded." in page


# --- 3. happy paths through the API ------------------------------------------------------------


def _post(user: User, url: str, body: dict[str, Any] | None = None) -> Any:
    return HttpClient().post(url, body or {}, content_type="application/json", **_api(user))


def test_api_note_lifecycle_create_save_sign_addendum(
    theo: User, client_record: Client, yesterday: date
) -> None:
    created = _post(
        theo,
        f"/api/v1/clients/{client_record.public_id}/notes",
        {"kind": "individual", "session_date": yesterday.isoformat()},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "draft" and body["version"] == 1 and body["author"] == "Theo"
    assert body["client"] == str(client_record.public_id)
    note_id = body["id"]
    assert SessionNote.objects.get(public_id=note_id).author == theo

    saved = HttpClient().put(
        f"/api/v1/notes/{note_id}/draft",
        {"version": 1, "content": DAP},
        content_type="application/json",
        **_api(theo),
    )
    assert saved.status_code == 200, saved.content
    assert saved.json()["version"] == 2 and saved.json()["content"] == DAP

    signed = _post(theo, f"/api/v1/notes/{note_id}/sign", {"version": 2})
    assert signed.status_code == 200, signed.content
    body = signed.json()
    assert body["status"] == "final" and body["digest_ok"] and body["signed_at"]
    note = SessionNote.objects.select_related("client", "author").get(public_id=note_id)
    assert body["signed_digest"] == note.signed_digest == note.compute_digest()

    added = _post(theo, f"/api/v1/notes/{note_id}/addenda", {"text": "Phone call afterwards."})
    assert added.status_code == 201, added.content
    (addendum,) = added.json()["addenda"]
    assert addendum["kind"] == "addendum" and addendum["text"] == "Phone call afterwards."
    assert added.json()["content"] == DAP and added.json()["digest_ok"]


def test_api_sign_with_a_stale_version_is_409_and_changes_nothing(
    theo: User, draft: SessionNote
) -> None:
    services.note_update_draft(actor=theo, note=draft, version=1, content=DAP)  # now version 2
    before = _state()
    stale = _post(theo, f"/api/v1/notes/{draft.public_id}/sign", {"version": 1})
    assert stale.status_code == 409
    assert stale["Content-Type"] == "application/problem+json"
    assert stale.json()["current"]["version"] == 2
    assert _state() == before
    draft.refresh_from_db()
    assert draft.status == NoteStatus.DRAFT and draft.signed_at is None


def test_api_supervisor_cosigns(sue: User, tina: User, pending: SessionNote) -> None:
    by_trainee = _post(tina, f"/api/v1/notes/{pending.public_id}/cosign")
    assert by_trainee.status_code == 403
    response = _post(sue, f"/api/v1/notes/{pending.public_id}/cosign")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "final" and body["cosigned_by"] == "Sue" and body["cosigned_at"]
    assert body["cosign_required"] and body["digest_ok"]
    pending.refresh_from_db()
    assert pending.status == NoteStatus.FINAL and pending.cosigned_by == sue


def test_api_entered_in_error_keeps_the_note(theo: User, signed: SessionNote) -> None:
    url = f"/api/v1/notes/{signed.public_id}/entered-in-error"
    before = _state()
    assert _post(theo, url, {"reason": ""}).status_code == 422
    assert _state() == before
    response = _post(theo, url, {"reason": "Wrong client."})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["entered_in_error"] and body["entered_in_error_reason"] == "Wrong client."
    assert body["content"] == DAP and body["digest_ok"]
    still_there = HttpClient().get(f"/api/v1/notes/{signed.public_id}", **_api(theo))
    assert still_there.status_code == 200 and still_there.json()["entered_in_error"]


def test_api_amendment_request_then_accept(theo: User, signed: SessionNote) -> None:
    recorded = _post(
        theo,
        f"/api/v1/notes/{signed.public_id}/amendment-requests",
        {"requested_change": "My sister's name is Ada."},
    )
    assert recorded.status_code == 201, recorded.content
    req = recorded.json()
    assert req["status"] == "pending" and req["decided_at"] is None
    assert AmendmentRequest.objects.get(public_id=req["id"]).received_by == theo

    decided = _post(theo, f"/api/v1/amendment-requests/{req['id']}/decision", {"accept": True})
    assert decided.status_code == 200, decided.content
    note = decided.json()
    assert note["id"] == str(signed.public_id) and note["content"] == DAP
    (addendum,) = note["addenda"]
    assert addendum["kind"] == "amendment" and "Ada" in addendum["text"]
    (amendment,) = note["amendment_requests"]
    assert amendment["status"] == "accepted" and amendment["decided_at"]
    again = _post(theo, f"/api/v1/amendment-requests/{req['id']}/decision", {"accept": True})
    assert again.status_code == 422 and NoteAddendum.objects.count() == 1


def test_api_amendment_denial_appends_request_and_denial(
    theo: User, signed: SessionNote, amendment: AmendmentRequest
) -> None:
    url = f"/api/v1/amendment-requests/{amendment.public_id}/decision"
    before = _state()
    no_reason = _post(theo, url, {"accept": False})
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    assert _state() == before

    denied = _post(theo, url, {"accept": False, "reason": "Three were recorded."})
    assert denied.status_code == 200, denied.content
    note = denied.json()
    (addendum,) = note["addenda"]
    assert addendum["kind"] == "amendment_denied"
    assert "two cravings, not three" in addendum["text"]
    assert "Three were recorded." in addendum["text"]
    (req,) = note["amendment_requests"]
    assert req["status"] == "denied" and req["decision_reason"] == "Three were recorded."
    assert note["content"] == DAP and note["digest_ok"]
