from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.selectors import client_get
from iptcare.core.errors import DomainError, NotFound
from iptcare.encounters import services
from iptcare.encounters.forms import (
    AddendumForm,
    AmendmentDecisionForm,
    AmendmentRequestForm,
    EnteredInErrorForm,
    NewNoteForm,
    NoteEditorForm,
)
from iptcare.encounters.models import AmendmentRequest, AmendmentStatus, NoteStatus, SessionNote
from iptcare.encounters.sections import REGISTRY
from iptcare.encounters.selectors import cosign_queue, note_get


def _form_errors(form: Any, exc: DomainError) -> None:
    if exc.field_errors:
        for key, errors in exc.field_errors.items():
            name = key.replace(".", "__")
            for e in errors:
                form.add_error(name if name in form.fields else None, e)
    else:
        form.add_error(None, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def note_new(request: HttpRequest, client_id: UUID) -> HttpResponse:
    """An empty form for a new note: opening it records nothing (the client is looked up for
    the note it will belong to); the note's service decides the write and records it."""
    actor: User = request.user  # type: ignore[assignment]
    client = client_get(
        actor=actor,
        public_id=client_id,
        action=Action.CREATE,
        category=DataCategory.CLINICAL_RECORD,
    )
    form = NewNoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            note = services.note_create(
                actor=actor,
                client=client,
                kind=form.cleaned_data["kind"],
                session_date=form.cleaned_data["session_date"],
                content=form.content(),
            )
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            return redirect("encounters:note", public_id=note.public_id)
    return render(
        request,
        "encounters/note_new.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


def _detail_context(actor: User, note: SessionNote) -> dict[str, Any]:
    supervising = decide(actor, Action.SIGN, note, note.data_category, Purpose.OPERATIONS)
    return {
        "note": note,
        "client": note.client,
        "addenda": list(note.addenda.all()),
        "amendments": list(note.amendment_requests.all()),
        "can_cosign": note.status == NoteStatus.PENDING_COSIGN
        and note.author_id != actor.pk
        and bool(supervising)
        and not actor.is_trainee,
        "can_mark_error": not note.is_entered_in_error
        and (note.author_id == actor.pk or bool(supervising)),
        "addendum_form": AddendumForm(),
        "error_form": EnteredInErrorForm(),
        "amendment_form": AmendmentRequestForm(),
        "decision_form": AmendmentDecisionForm(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def note_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """A draft opens in the editor for its author; anything else is the signed view."""
    actor: User = request.user  # type: ignore[assignment]
    note = note_get(actor=actor, public_id=public_id)
    if note.status != NoteStatus.DRAFT or note.author_id != actor.pk:
        if request.method == "POST":
            return HttpResponse("This note cannot be edited.", status=409)
        return render(request, "encounters/note_detail.html", _detail_context(actor, note))

    form = NoteEditorForm(
        request.POST or None,
        kind=note.kind,
        content=note.content,
        initial={"version": note.version, "session_date": note.session_date},
    )
    status, conflict = 200, None
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.note_update_draft(
                actor=actor,
                note=note,
                version=form.cleaned_data["version"],
                content=form.content(),
                session_date=form.cleaned_data["session_date"],
            )
            if request.POST.get("action") == "sign":
                services.note_sign(actor=actor, note=saved, version=saved.version)
                messages.success(
                    request,
                    "Note signed. It can no longer be edited; add an "
                    "addendum to correct or add to it.",
                )
            else:
                messages.success(request, "Draft saved.")
            return redirect("encounters:note", public_id=note.public_id)
        except services.NoteConflict as exc:
            status, conflict = 409, exc.current
            form.add_error(None, exc.message)
            # The user's text stays in the form, which now builds on the newest version: the
            # next save is theirs to make, not another conflict with the same version.
            data = request.POST.copy()
            data["version"] = str(exc.current.version)
            form.data = data
        except DomainError as exc:
            status = 400
            _form_errors(form, exc)
    elif request.method == "POST":
        status = 400
    groups = [
        (REGISTRY[code].label, [form[f"{code}__{f.name}"] for f in REGISTRY[code].fields])
        for code in form.section_codes
    ]
    return render(
        request,
        "encounters/note_edit.html",
        {"note": note, "client": note.client, "form": form, "groups": groups, "conflict": conflict},
        status=status,
    )


def _act(
    request: HttpRequest,
    public_id: UUID,
    action: Any,
    success: str,
    *,
    form: forms.Form | None = None,
    form_key: str = "",
    note: SessionNote | None = None,
) -> HttpResponse:
    """Run ``action(actor, note)`` for a POST from the note page; on a refusal show the page
    again with what went wrong: at the top and, when a field is wrong, at that field (``form``,
    bound to what was typed, which stays). ``note``: already read (and its read audited)."""
    actor: User = request.user  # type: ignore[assignment]
    note = note or note_get(actor=actor, public_id=public_id)
    if form is not None and not form.is_valid():
        return _detail_again(request, actor, note, {form_key: form}, status=400)
    try:
        action(actor, note)
    except DomainError as exc:
        extra: dict[str, Any] = {"action_error": exc.message}
        if form is not None:
            extra[form_key] = form
            if exc.field_errors:  # the summary stays at the top, each error at its field
                _form_errors(form, exc)
        return _detail_again(
            request, actor, note, extra, status=exc.status if exc.status != 422 else 400
        )
    messages.success(request, success)
    return redirect("encounters:note", public_id=public_id)


def _detail_again(
    request: HttpRequest, actor: User, note: SessionNote, extra: dict[str, Any], *, status: int
) -> HttpResponse:
    return render(
        request,
        "encounters/note_detail.html",
        {**_detail_context(actor, note), **extra},
        status=status,
    )


@login_required
@require_POST
def note_addendum(request: HttpRequest, public_id: UUID) -> HttpResponse:
    form = AddendumForm(request.POST)
    return _act(
        request,
        public_id,
        lambda a, n: services.note_add_addendum(actor=a, note=n, text=form.cleaned_data["text"]),
        "Addendum added and signed.",
        form=form,
        form_key="addendum_form",
    )


@login_required
@require_POST
def note_cosign(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _act(
        request, public_id, lambda a, n: services.note_cosign(actor=a, note=n), "Co-signed."
    )


@login_required
@require_POST
def note_entered_in_error(request: HttpRequest, public_id: UUID) -> HttpResponse:
    form = EnteredInErrorForm(request.POST)
    return _act(
        request,
        public_id,
        lambda a, n: services.note_mark_entered_in_error(
            actor=a, note=n, reason=form.cleaned_data["reason"]
        ),
        "Marked entered in error. The note stays in the record.",
        form=form,
        form_key="error_form",
    )


@login_required
@require_POST
def note_amendment_request(request: HttpRequest, public_id: UUID) -> HttpResponse:
    form = AmendmentRequestForm(request.POST)
    return _act(
        request,
        public_id,
        lambda a, n: services.amendment_request_record(
            actor=a, note=n, requested_change=form.cleaned_data["requested_change"]
        ),
        "The client's amendment request is recorded.",
        form=form,
        form_key="amendment_form",
    )


@login_required
@require_POST
def amendment_decide(request: HttpRequest, public_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    req = AmendmentRequest.objects.select_related("note").filter(public_id=public_id).first()
    if req is None:
        raise NotFound("No such request.")
    note = note_get(actor=actor, public_id=req.note.public_id)
    req.note = note
    form = AmendmentDecisionForm(request.POST)
    accept = form.data.get("decision") == "accept"
    return _act(
        request,
        note.public_id,
        lambda a, n: services.amendment_decide(
            actor=a, request=req, accept=accept, reason=form.cleaned_data["reason"]
        ),
        "Amendment accepted and appended." if accept else "Denial recorded and appended.",
        form=form,
        form_key="decision_form",
        note=note,
    )


@login_required
@require_GET
def cosign_list(request: HttpRequest) -> HttpResponse:
    """Notes the user may co-sign (an empty list for anyone who supervises no one)."""
    actor: User = request.user  # type: ignore[assignment]
    return render(request, "encounters/cosign_queue.html", {"notes": cosign_queue(actor=actor)})


_ = AmendmentStatus  # re-exported for templates' choices


@login_required
@require_http_methods(["GET", "POST"])
def group_notes_new(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """Write a group's notes at once: the shared part, and a few words per attendee."""
    from iptcare.scheduling.models import ATTENDED_STATUSES
    from iptcare.scheduling.selectors import group_roster, group_session_get

    actor: User = request.user  # type: ignore[assignment]
    session = group_session_get(actor=actor, public_id=session_id)
    attendees = [
        s for s in group_roster(actor=actor, session=session) if s.status in ATTENDED_STATUSES
    ]
    error, status = "", 200
    shared = str(request.POST.get("shared", ""))
    if request.method == "POST":
        individual = {
            s.client.public_id: {"data": str(request.POST.get(f"data_{s.client.public_id}", ""))}
            for s in attendees
        }
        try:
            services.group_notes_create(
                actor=actor,
                clients=[s.client for s in attendees],
                session_date=timezone.localtime(session.starts_at).date(),
                shared=shared,
                individual=individual,
            )
        except DomainError as exc:
            error, status = exc.message, (400 if exc.status == 422 else exc.status)
        else:
            messages.success(request, f"{len(attendees)} draft notes written; sign each one.")
            return redirect("scheduling:group_detail", session_id=session.public_id)
    return render(
        request,
        "encounters/group_notes.html",
        {"session": session, "attendees": attendees, "error": error, "shared": shared},
        status=status,
    )
