"""Session notes: draft → signed (frozen, digest) → addenda; co-signature; entered in error;
amendment requests; group notes; counselling notes; optimistic locking; outsiders refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.admin.sites import site as admin_site
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from iptcare.accounts.models import User
from iptcare.accounts.services import token_create
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.core.errors import Forbidden, InvalidInput, NotFound
from iptcare.core.models import Program
from iptcare.encounters import services
from iptcare.encounters.models import (
    AddendumKind,
    ImmutableRecord,
    NoteAddendum,
    NoteStatus,
    SessionNote,
)
from iptcare.encounters.selectors import client_notes, cosign_queue, note_get
from tests.encounters.conftest import DAP


def _api(user: User) -> dict[str, Any]:
    return {
        "headers": {
            "Authorization": f"Bearer {token_create(user=user, name='t', days=1).plaintext}"
        }
    }


# --- drafts and optimistic locking -------------------------------------------------------------


def test_draft_is_created_and_audited(draft: SessionNote, theo: User) -> None:
    assert draft.status == NoteStatus.DRAFT and draft.version == 1
    event = AuditEvent.objects.get(action="create", client_id=draft.client.public_id)
    assert event.actor_id == theo.public_id and event.data_category == "clinical_record"
    assert event.outcome == "success"
    assert (event.resource_type, event.resource_id) == ("session_note", str(draft.public_id))


def test_future_session_date_is_refused(theo: User, client_record: Client) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.note_create(
            actor=theo,
            client=client_record,
            kind="individual",
            session_date=date.today() + timedelta(days=1),
        )
    assert "session_date" in exc.value.field_errors
    assert not SessionNote.objects.exists()


def test_unknown_section_and_field_are_field_errors(
    theo: User, client_record: Client, yesterday: date
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.note_create(
            actor=theo,
            client=client_record,
            kind="individual",
            session_date=yesterday,
            content={"dap": {"colour": "blue"}, "astrology": {}},
        )
    # Keys that are no section or field are named in the messages, under the section or the
    # content they were found in (error keys are field names).
    assert set(exc.value.field_errors) == {"dap", "content"}
    assert exc.value.field_errors["dap"] == ["Unknown field 'colour'."]
    assert exc.value.field_errors["content"] == ["Unknown note section 'astrology'."]


def test_stale_draft_save_is_a_conflict_with_both_texts(theo: User, draft: SessionNote) -> None:
    first = services.note_update_draft(
        actor=theo, note=draft, version=1, content={"dap": {"data": "from the laptop"}}
    )
    assert first.version == 2
    with pytest.raises(services.NoteConflict) as exc:
        services.note_update_draft(
            actor=theo, note=draft, version=1, content={"dap": {"data": "from the tablet"}}
        )
    assert exc.value.current.content["dap"]["data"] == "from the laptop"
    assert exc.value.submitted["dap"]["data"] == "from the tablet"
    draft.refresh_from_db()
    assert draft.content["dap"]["data"] == "from the laptop"


def test_api_conflict_is_409_problem_with_both_versions(theo: User, draft: SessionNote) -> None:
    http, auth = HttpClient(), _api(theo)
    url = f"/api/v1/notes/{draft.public_id}/draft"
    ok = http.put(
        url,
        {"version": 1, "content": {"dap": {"data": "A"}}},
        content_type="application/json",
        **auth,
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = http.put(
        url,
        {"version": 1, "content": {"dap": {"data": "B"}}},
        content_type="application/json",
        **auth,
    )
    assert stale.status_code == 409
    assert stale["Content-Type"] == "application/problem+json"
    body = stale.json()
    assert body["current"]["content"]["dap"]["data"] == "A"
    assert body["submitted"]["content"]["dap"]["data"] == "B"


def test_editor_page_conflict_keeps_both_texts_visible(
    theo: User, draft: SessionNote, login_as: Callable[[User], HttpClient], yesterday: date
) -> None:
    http = login_as(theo)
    page = http.get(f"/notes/{draft.public_id}/")
    assert page.status_code == 200 and b"note-editor" in page.content
    form = {
        "version": 1,
        "session_date": yesterday.isoformat(),
        "dap__data": "first tab",
        "dap__assessment": "",
        "dap__plan": "",
        "action": "save",
    }
    assert http.post(f"/notes/{draft.public_id}/", form).status_code == 302
    stale = http.post(f"/notes/{draft.public_id}/", {**form, "dap__data": "second tab"})
    assert stale.status_code == 409
    html = stale.content.decode()
    assert "first tab" in html and "second tab" in html
    assert 'data-testid="conflict"' in html
    # The form now carries the newest version, so saving the merged text succeeds.
    assert 'name="version" value="2"' in html
    merged = http.post(f"/notes/{draft.public_id}/", {**form, "version": 2, "dap__data": "both"})
    assert merged.status_code == 302
    draft.refresh_from_db()
    assert (draft.version, draft.content["dap"]["data"]) == (3, "both")


def test_only_the_author_edits_a_draft(tom: User, draft: SessionNote) -> None:
    with pytest.raises(Forbidden):
        services.note_update_draft(actor=tom, note=draft, version=1, content=DAP)


# --- signing and immutability ------------------------------------------------------------------


def test_signing_requires_the_dap_fields(
    theo: User, client_record: Client, yesterday: date
) -> None:
    note = services.note_create(
        actor=theo,
        client=client_record,
        kind="individual",
        session_date=yesterday,
        content={"dap": {"data": "only data"}},
    )
    with pytest.raises(InvalidInput) as exc:
        services.note_sign(actor=theo, note=note, version=note.version)
    assert set(exc.value.field_errors) == {"dap.assessment", "dap.plan"}
    note.refresh_from_db()
    assert note.status == NoteStatus.DRAFT


def test_signed_note_has_a_digest_that_rechecks(signed: SessionNote) -> None:
    assert signed.status == NoteStatus.FINAL and signed.signed_at is not None
    fresh = SessionNote.objects.select_related("client", "author").get(pk=signed.pk)
    assert fresh.signed_digest == fresh.compute_digest()
    assert fresh.digest_ok
    fresh.content = {"dap": {**DAP["dap"], "plan": "tampered"}}  # in memory only
    assert not fresh.digest_ok


def test_signed_note_refuses_change_through_the_service(theo: User, signed: SessionNote) -> None:
    with pytest.raises(ImmutableRecord):
        services.note_update_draft(actor=theo, note=signed, version=signed.version, content=DAP)
    with pytest.raises(ImmutableRecord):
        services.note_sign(actor=theo, note=signed, version=signed.version)


def test_signed_note_refuses_change_through_the_api(theo: User, signed: SessionNote) -> None:
    response = HttpClient().put(
        f"/api/v1/notes/{signed.public_id}/draft",
        {"version": signed.version, "content": {"dap": {"data": "rewritten"}}},
        content_type="application/json",
        **_api(theo),
    )
    assert response.status_code == 409
    signed.refresh_from_db()
    assert signed.content == DAP


def test_signed_note_refuses_change_through_the_orm(signed: SessionNote) -> None:
    signed.content = {"dap": {"data": "rewritten"}}
    with pytest.raises(ImmutableRecord):
        signed.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        SessionNote.objects.filter(pk=signed.pk).update(content={"dap": {"data": "bulk"}})
    with pytest.raises(DatabaseError), transaction.atomic():
        SessionNote.objects.filter(pk=signed.pk).update(status=NoteStatus.DRAFT)
    with pytest.raises(ImmutableRecord):
        signed.delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        SessionNote.objects.filter(pk=signed.pk).delete()
    assert SessionNote.objects.get(pk=signed.pk).content == DAP


def test_signed_note_refuses_change_through_the_admin(
    signed: SessionNote, make_user: Callable[..., User]
) -> None:
    assert SessionNote in admin_site._registry
    root = make_user("root@example.org", organisation=None, is_staff=True, is_superuser=True)
    http = HttpClient()
    http.force_login(root, backend="iptcare.accounts.backends.EmailBackend")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=root, name="t", confirmed=True)
    session = http.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    url = f"/django-admin/encounters/sessionnote/{signed.pk}/change/"
    page = http.get(url)
    assert page.status_code == 200  # a superuser may inspect the note
    assert b"<form" in page.content and b'name="status"' not in page.content  # view only
    assert b'name="content"' not in page.content
    before = SessionNote.objects.values().get(pk=signed.pk)
    form = {
        "content": '{"dap": {"data": "admin edit"}}',
        "status": "draft",
        "version": str(signed.version),
        "cosign_required": "on",
        "entered_in_error_reason": "admin",
        "group_key": "",
    }
    assert http.post(url, form).status_code == 403  # a complete form is refused, not re-shown
    assert SessionNote.objects.values().get(pk=signed.pk) == before


def _pending(tina: User, client_record: Client, yesterday: date) -> SessionNote:
    note = services.note_create(
        actor=tina, client=client_record, kind="individual", session_date=yesterday, content=DAP
    )
    return services.note_sign(actor=tina, note=note, version=note.version)


def test_a_pending_note_becomes_final_only_through_a_cosignature(
    tina: User, client_record: Client, yesterday: date
) -> None:
    """The database refuses what skips the co-signing service: final without a co-signer, or
    the co-signature requirement dropped after signing."""
    note = _pending(tina, client_record, yesterday)
    rows = SessionNote.objects.filter(pk=note.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.update(status=NoteStatus.FINAL)
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.update(cosign_required=False)
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.update(cosign_required=False, status=NoteStatus.FINAL)
    note.cosign_required = False
    with pytest.raises(ImmutableRecord):
        note.save()
    stored = rows.get()
    assert (stored.status, stored.cosign_required) == (NoteStatus.PENDING_COSIGN, True)
    assert stored.cosigned_by is None


def test_a_cosignature_and_finality_are_kept(
    tina: User, sue: User, theo: User, client_record: Client, yesterday: date
) -> None:
    final = services.note_cosign(actor=sue, note=_pending(tina, client_record, yesterday))
    rows = SessionNote.objects.filter(pk=final.pk)
    for change in (
        {"cosigned_by": theo},
        {"cosigned_by": None},
        {"cosigned_at": None},
        {"status": NoteStatus.PENDING_COSIGN},
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            rows.update(**change)
    final.cosigned_by = theo
    with pytest.raises(ImmutableRecord):
        final.save()
    final.refresh_from_db()
    final.status = NoteStatus.PENDING_COSIGN
    with pytest.raises(ImmutableRecord):
        final.save()
    stored = rows.get()
    assert (stored.status, stored.cosigned_by) == (NoteStatus.FINAL, sue)


def test_an_entered_in_error_mark_is_kept(theo: User, signed: SessionNote) -> None:
    marked = services.note_mark_entered_in_error(actor=theo, note=signed, reason="wrong client")
    rows = SessionNote.objects.filter(pk=marked.pk)
    for change in (
        {"entered_in_error_at": None},
        {"entered_in_error_by": None},
        {"entered_in_error_reason": "rewritten"},
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            rows.update(**change)
    marked.entered_in_error_reason = "rewritten"
    with pytest.raises(ImmutableRecord):
        marked.save()
    stored = rows.get()
    assert stored.is_entered_in_error and stored.entered_in_error_reason == "wrong client"
    assert stored.entered_in_error_by == theo


def test_a_draft_marked_in_error_keeps_its_mark_too(theo: User, draft: SessionNote) -> None:
    marked = services.note_mark_entered_in_error(actor=theo, note=draft, reason="duplicate")
    with pytest.raises(DatabaseError), transaction.atomic():
        SessionNote.objects.filter(pk=marked.pk).update(entered_in_error_at=None)
    assert SessionNote.objects.get(pk=marked.pk).is_entered_in_error


def test_draft_cannot_be_deleted_either(draft: SessionNote) -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        SessionNote.objects.filter(pk=draft.pk).delete()


# --- addenda -----------------------------------------------------------------------------------


def test_addendum_is_appended_signed_and_frozen(tom: User, signed: SessionNote) -> None:
    addendum = services.note_add_addendum(actor=tom, note=signed, text="Late entry: phone call.")
    assert addendum.digest == addendum.compute_digest()
    signed.refresh_from_db()
    assert signed.content == DAP and signed.digest_ok
    with pytest.raises(DatabaseError), transaction.atomic():
        NoteAddendum.objects.filter(pk=addendum.pk).update(text="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        NoteAddendum.objects.filter(pk=addendum.pk).delete()


def test_addendum_needs_a_signed_note_and_text(
    theo: User, draft: SessionNote, signed: SessionNote
) -> None:
    with pytest.raises(InvalidInput):
        services.note_add_addendum(actor=theo, note=signed, text="   ")
    other = services.note_create(
        actor=theo, client=draft.client, kind="individual", session_date=draft.session_date
    )
    with pytest.raises(InvalidInput):
        services.note_add_addendum(actor=theo, note=other, text="x")


# --- co-signature ------------------------------------------------------------------------------


def test_trainee_note_waits_for_a_supervisor(
    tina: User, sue: User, theo: User, client_record: Client, yesterday: date
) -> None:
    note = services.note_create(
        actor=tina, client=client_record, kind="individual", session_date=yesterday, content=DAP
    )
    note = services.note_sign(actor=tina, note=note, version=note.version)
    assert note.status == NoteStatus.PENDING_COSIGN and note.cosign_required
    assert [n.pk for n in cosign_queue(actor=sue)] == [note.pk]
    assert cosign_queue(actor=theo) == []
    with pytest.raises(Forbidden):
        services.note_cosign(actor=theo, note=note)  # a therapist is not a supervisor
    with pytest.raises(Forbidden):
        services.note_cosign(actor=tina, note=note)
    final = services.note_cosign(actor=sue, note=note)
    assert final.status == NoteStatus.FINAL and final.cosigned_by == sue
    with pytest.raises(InvalidInput):
        services.note_cosign(actor=sue, note=final)


def test_supervisor_cannot_cosign_outside_their_programs(
    tina: User,
    make_user: Callable[..., User],
    riverside: Program,
    client_record: Client,
    yesterday: date,
) -> None:
    from iptcare.access.vocabulary import Role

    ray = make_user(
        "ray@example.org",
        organisation=client_record.organisation,
        roles=(Role.CLINICAL_SUPERVISOR,),
        programs=(riverside,),
    )
    note = services.note_create(
        actor=tina, client=client_record, kind="individual", session_date=yesterday, content=DAP
    )
    note = services.note_sign(actor=tina, note=note, version=note.version)
    with pytest.raises(Forbidden):
        services.note_cosign(actor=ray, note=note)


# --- entered in error --------------------------------------------------------------------------


def test_entered_in_error_keeps_the_note(theo: User, tom: User, signed: SessionNote) -> None:
    with pytest.raises(Forbidden):
        services.note_mark_entered_in_error(actor=tom, note=signed, reason="wrong client")
    with pytest.raises(InvalidInput):
        services.note_mark_entered_in_error(actor=theo, note=signed, reason=" ")
    marked = services.note_mark_entered_in_error(actor=theo, note=signed, reason="wrong client")
    assert marked.is_entered_in_error and marked.entered_in_error_by == theo
    assert marked.content == DAP and marked.digest_ok
    assert [n.pk for n in client_notes(actor=theo, client=signed.client)] == [signed.pk]


# --- amendment requests (ONC 170.315(d)(4)) ----------------------------------------------------


def test_accepted_amendment_is_appended(theo: User, signed: SessionNote) -> None:
    req = services.amendment_request_record(
        actor=theo, note=signed, requested_change="I said two cravings, not three."
    )
    decided = services.amendment_decide(actor=theo, request=req, accept=True)
    assert decided.status == "accepted"
    assert decided.addendum is not None and decided.addendum.kind == AddendumKind.AMENDMENT
    assert "not three" in decided.addendum.text
    signed.refresh_from_db()
    assert signed.content == DAP


def test_denied_amendment_appends_request_and_denial(theo: User, signed: SessionNote) -> None:
    req = services.amendment_request_record(
        actor=theo, note=signed, requested_change="Remove the plan."
    )
    with pytest.raises(InvalidInput) as exc:
        services.amendment_decide(actor=theo, request=req, accept=False)
    assert "reason" in exc.value.field_errors
    decided = services.amendment_decide(
        actor=theo,
        request=req,
        accept=False,
        reason="The plan reflects what was agreed in session.",
    )
    assert decided.addendum is not None
    assert decided.addendum.kind == AddendumKind.AMENDMENT_DENIED
    assert "Remove the plan." in decided.addendum.text
    assert "agreed in session" in decided.addendum.text
    with pytest.raises(InvalidInput):
        services.amendment_decide(actor=theo, request=req, accept=True)


# --- group notes -------------------------------------------------------------------------------


def test_group_notes_one_per_attendee(theo: User, client_record: Client, yesterday: date) -> None:
    other = Client.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        record_number="T-0002",
        legal_given_name="Ash",
        legal_family_name="Samplewood",
        date_of_birth=date(1985, 1, 2),
    )
    notes = services.group_notes_create(
        actor=theo,
        clients=[client_record, other],
        session_date=yesterday,
        shared="Topic: coping with weekends.",
        individual={other.public_id: {"data": "Ash shared a plan."}},
    )
    assert len(notes) == 2 and len({n.group_key for n in notes}) == 1
    assert all(n.content["group"]["shared"] == "Topic: coping with weekends." for n in notes)
    assert notes[1].content["dap"]["data"] == "Ash shared a plan."
    assert notes[0].client == client_record and notes[1].client == other


def test_group_notes_all_or_nothing(
    theo: User, client_record: Client, riverside: Program, yesterday: date
) -> None:
    elsewhere = Client.objects.create(
        organisation=client_record.organisation,
        program=riverside,
        record_number="T-0003",
        legal_given_name="Bo",
        legal_family_name="Mockridge",
        date_of_birth=date(1990, 3, 4),
    )
    with pytest.raises(Forbidden):
        services.group_notes_create(
            actor=theo, clients=[client_record, elsewhere], session_date=yesterday, shared="x"
        )
    assert not SessionNote.objects.exists()


# --- counselling notes -------------------------------------------------------------------------


def test_counselling_notes_are_kept_apart(
    theo: User, tom: User, sue: User, client_record: Client, yesterday: date
) -> None:
    note = services.note_create(
        actor=theo,
        client=client_record,
        kind="counselling",
        session_date=yesterday,
        content={"counselling": {"text": "private"}},
    )
    assert note.data_category == "counselling_notes"
    assert note_get(actor=theo, public_id=note.public_id) == note
    with pytest.raises(Forbidden):
        note_get(actor=tom, public_id=note.public_id)  # another treating therapist
    assert note_get(actor=sue, public_id=note.public_id) == note  # supervision
    assert note not in client_notes(actor=tom, client=client_record)
    event = AuditEvent.objects.filter(actor_id=tom.public_id, outcome="denied").get()
    assert event.data_category == "counselling_notes"


def test_counselling_section_only_in_counselling_notes(
    theo: User, client_record: Client, yesterday: date
) -> None:
    with pytest.raises(InvalidInput):
        services.note_create(
            actor=theo,
            client=client_record,
            kind="individual",
            session_date=yesterday,
            content={"counselling": {"text": "x"}},
        )


# --- outsiders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_are_refused_everywhere(
    request: pytest.FixtureRequest, persona: str, signed: SessionNote, draft: SessionNote
) -> None:
    actor: User = request.getfixturevalue(persona)
    expected = NotFound if persona == "oscar" else Forbidden
    with pytest.raises(expected):
        note_get(actor=actor, public_id=signed.public_id)
    with pytest.raises(expected):
        services.note_create(
            actor=actor, client=signed.client, kind="individual", session_date=signed.session_date
        )
    with pytest.raises(expected):
        services.note_add_addendum(actor=actor, note=signed, text="x")
    with pytest.raises(expected):
        services.note_mark_entered_in_error(actor=actor, note=signed, reason="x")
    with pytest.raises(expected):
        services.amendment_request_record(actor=actor, note=signed, requested_change="x")
    http, auth = HttpClient(), _api(actor)
    for method, url, body in [
        ("get", f"/api/v1/notes/{signed.public_id}", None),
        ("get", f"/api/v1/clients/{signed.client.public_id}/notes", None),
        (
            "post",
            f"/api/v1/clients/{signed.client.public_id}/notes",
            {"session_date": "2026-01-01"},
        ),
        ("put", f"/api/v1/notes/{draft.public_id}/draft", {"version": 1, "content": {}}),
        ("post", f"/api/v1/notes/{draft.public_id}/sign", {"version": 1}),
        ("post", f"/api/v1/notes/{signed.public_id}/addenda", {"text": "x"}),
        ("post", f"/api/v1/notes/{signed.public_id}/cosign", None),
        ("post", f"/api/v1/notes/{signed.public_id}/entered-in-error", {"reason": "x"}),
    ]:
        kwargs: dict[str, Any] = {"content_type": "application/json", **auth}
        response = (
            getattr(http, method)(url, body, **kwargs)
            if body
            else getattr(http, method)(url, **auth)
        )
        assert response.status_code in {403, 404}, (persona, method, url, response.status_code)
    assert SessionNote.objects.count() == 1 and not NoteAddendum.objects.exists()


# --- pages and query counts ---------------------------------------------------------------------


def test_sign_and_addendum_through_the_pages(
    theo: User, draft: SessionNote, login_as: Callable[[User], HttpClient], yesterday: date
) -> None:
    http = login_as(theo)
    form = {
        "version": draft.version,
        "session_date": yesterday.isoformat(),
        "action": "sign",
        **{f"dap__{k}": v for k, v in DAP["dap"].items()},
    }
    assert http.post(f"/notes/{draft.public_id}/", form).status_code == 302
    view = http.get(f"/notes/{draft.public_id}/")
    assert b"signature intact" in view.content and b"note-editor" not in view.content
    empty = http.post(f"/notes/{draft.public_id}/addendum/", {"text": ""})
    assert empty.status_code == 400
    assert (
        http.post(f"/notes/{draft.public_id}/addendum/", {"text": "Added later."}).status_code
        == 302
    )
    assert b"Added later." in http.get(f"/notes/{draft.public_id}/").content


def test_client_notes_query_count_does_not_grow(
    theo: User, client_record: Client, yesterday: date
) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            note = services.note_create(
                actor=theo,
                client=client_record,
                kind="individual",
                session_date=yesterday,
                content=DAP,
            )
            note = services.note_sign(actor=theo, note=note, version=note.version)
            services.note_add_addendum(actor=theo, note=note, text="more")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            notes = client_notes(actor=theo, client=client_record)
            for n in notes:
                list(n.addenda.all())
                n.author.full_name  # noqa: B018
        return len(ctx.captured_queries)

    add(2)
    small = count()
    add(6)
    assert count() == small


def test_group_notes_api_and_page(
    theo: User,
    tess: User,
    client_record: Client,
    yesterday: date,
    login_as: Callable[[User], HttpClient],
) -> None:
    other = Client.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        record_number="T-0009",
        legal_given_name="Cy",
        legal_family_name="Placeholm",
        date_of_birth=date(1979, 9, 9),
    )
    body = {
        "clients": [str(client_record.public_id), str(other.public_id)],
        "session_date": yesterday.isoformat(),
        "shared": "Relapse prevention skills.",
        "individual": {str(other.public_id): {"data": "Cy practised refusal."}},
    }
    response = HttpClient().post(
        "/api/v1/group-notes", body, content_type="application/json", **_api(theo)
    )
    assert response.status_code == 201
    created = response.json()
    assert [n["content"]["group"]["shared"] for n in created] == ["Relapse prevention skills."] * 2
    refused = HttpClient().post(
        "/api/v1/group-notes", body, content_type="application/json", **_api(tess)
    )
    assert refused.status_code == 403
    assert SessionNote.objects.count() == 2


def test_notes_list_api_query_count_does_not_grow(
    theo: User, client_record: Client, yesterday: date
) -> None:
    http, auth = HttpClient(), _api(theo)
    url = f"/api/v1/clients/{client_record.public_id}/notes"

    def add(n: int) -> None:
        for _ in range(n):
            note = services.note_create(
                actor=theo,
                client=client_record,
                kind="individual",
                session_date=yesterday,
                content=DAP,
            )
            note = services.note_sign(actor=theo, note=note, version=note.version)
            services.note_add_addendum(actor=theo, note=note, text="x")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert http.get(url, **auth).status_code == 200
        return len(ctx.captured_queries)

    add(2)
    http.get(url, **auth)
    small = count()
    add(5)
    assert len(http.get(url, **auth).json()) == 7
    assert count() == small


def test_group_notes_page_writes_one_draft_per_attendee(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    from django.utils import timezone

    from iptcare.scheduling import services as scheduling

    other = Client.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        record_number="T-0010",
        legal_given_name="Di",
        legal_family_name="Synthfield",
        date_of_birth=date(1982, 2, 2),
    )
    session = scheduling.group_session_create(
        actor=theo,
        program=client_record.program,
        title="Coping skills",
        facilitator=theo,
        starts_at=timezone.now() - timedelta(hours=1),
        duration_minutes=90,
        modality="cbt",
    )
    for c in (client_record, other):
        scheduling.group_roster_add(actor=theo, session=session, client=c)
    scheduling.group_record_attendance(
        actor=theo,
        session=session,
        attendance={client_record.public_id: "attended", other.public_id: "no_show"},
    )
    http = login_as(theo)
    page = http.get(f"/groups/{session.public_id}/notes/")
    assert page.status_code == 200
    assert "Wren" in page.content.decode() and "Di Synthfield" not in page.content.decode()
    response = http.post(
        f"/groups/{session.public_id}/notes/",
        {"shared": "Skills review.", f"data_{client_record.public_id}": "Engaged."},
    )
    assert response.status_code == 302
    (note,) = SessionNote.objects.all()
    assert note.client == client_record and note.kind == "group"
    assert note.content == {"group": {"shared": "Skills review."}, "dap": {"data": "Engaged."}}


# --- modality sections (the extension point) ---------------------------------------------------


def test_ipt_section_validates_and_is_required_to_sign(
    theo: User, client_record: Client, yesterday: date
) -> None:
    content: dict[str, dict[str, Any]] = {
        **DAP,
        "ipt": {"phase": "middle", "techniques": ["communication_analysis"]},
    }
    note = services.note_create(
        actor=theo, client=client_record, kind="individual", session_date=yesterday, content=content
    )
    with pytest.raises(InvalidInput) as exc:
        services.note_sign(actor=theo, note=note, version=note.version)
    assert set(exc.value.field_errors) == {"ipt.link"}
    with pytest.raises(InvalidInput) as bad:
        services.note_update_draft(
            actor=theo,
            note=note,
            version=note.version,
            content={**content, "ipt": {"phase": "final", "techniques": ["hypnosis"]}},
        )
    assert set(bad.value.field_errors) == {"ipt.phase", "ipt.techniques"}
    note = services.note_update_draft(
        actor=theo,
        note=note,
        version=note.version,
        content={**content, "ipt": {**content["ipt"], "link": "Argument → low mood → craving."}},
    )
    signed = services.note_sign(actor=theo, note=note, version=note.version)
    assert signed.content["ipt"]["techniques"] == ["communication_analysis"]


@pytest.mark.parametrize(
    ("code", "kind", "ok"),
    [
        ("ipt", "individual", True),
        ("ipt", "counselling", False),
        ("cbt", "group", True),
        ("mi", "family", True),
        ("medication", "medication", True),
        ("medication", "group", False),
    ],
)
def test_sections_belong_to_note_kinds(
    theo: User, client_record: Client, yesterday: date, code: str, kind: str, ok: bool
) -> None:
    content: dict[str, dict[str, Any]] = {"group": {}} if kind == "group" else {}
    content[code] = {}
    if kind == "counselling":
        content = {"counselling": {"text": ""}, code: {}}
    if ok:
        services.note_create(
            actor=theo, client=client_record, kind=kind, session_date=yesterday, content=content
        )
    else:
        with pytest.raises(InvalidInput):
            services.note_create(
                actor=theo, client=client_record, kind=kind, session_date=yesterday, content=content
            )


def test_new_note_page_adds_the_chosen_modality_sections(
    theo: User, client_record: Client, yesterday: date, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)
    response = http.post(
        f"/clients/{client_record.public_id}/notes/new/",
        {"kind": "individual", "session_date": yesterday.isoformat(), "sections": ["ipt", "mi"]},
    )
    assert response.status_code == 302
    note = SessionNote.objects.get()
    assert set(note.content) == {"dap", "ipt", "mi"}
    editor = http.get(f"/notes/{note.public_id}/").content.decode()
    assert "Interpersonal psychotherapy (IPT)" in editor and 'name="ipt__techniques"' in editor
    bad = http.post(
        f"/clients/{client_record.public_id}/notes/new/",
        {"kind": "counselling", "session_date": yesterday.isoformat(), "sections": ["ipt"]},
    )
    assert bad.status_code == 400 and SessionNote.objects.count() == 1
