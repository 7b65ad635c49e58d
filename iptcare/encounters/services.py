"""Every write to session notes: draft, autosave, sign, co-sign, addendum, entered in error,
amendment requests.

Shape: keyword-only, the actor first, one ``writing`` block — the access decision, then the
input's validation and the write in one transaction that ends with the write's one audit event
(a bad input, a stale version or a refused rule leaves nothing but one failure event)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.utils import timezone

from iptcare.access.policy import check, decide, writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.errors import Conflict, Forbidden, InvalidInput
from iptcare.encounters import sections
from iptcare.encounters.models import (
    AddendumKind,
    AmendmentRequest,
    AmendmentStatus,
    ImmutableRecord,
    NoteAddendum,
    NoteKind,
    NoteStatus,
    SessionNote,
)


class NoteConflict(Conflict):
    """A stale autosave: both the stored and the submitted content travel with the error."""

    def __init__(self, message: str, *, current: SessionNote, submitted: dict[str, Any]) -> None:
        super().__init__(message)
        self.current = current
        self.submitted = submitted


def _category(kind: str) -> DataCategory:
    return (
        DataCategory.COUNSELLING_NOTES
        if kind == NoteKind.COUNSELLING
        else DataCategory.CLINICAL_RECORD
    )


def _validated(content: Any, *, kind: str, for_signing: bool) -> dict[str, dict[str, Any]]:
    clean, errors = sections.validate(content, kind=kind, for_signing=for_signing)
    if errors:
        raise InvalidInput("Some fields of the note are invalid.", field_errors=errors)
    return clean


def _locked(note: SessionNote) -> SessionNote:
    return (
        SessionNote.objects.select_for_update()
        .select_related("client__organisation", "author")
        .get(pk=note.pk)
    )


def _check_new(
    kind: NoteKind, session_date: date, content: dict[str, Any] | None
) -> dict[str, Any]:
    if session_date > timezone.localdate():
        raise InvalidInput(
            "A note documents a session that happened.",
            field_errors={"session_date": ["The session date cannot be in the future."]},
        )
    default = {"counselling": {"text": ""}} if kind == NoteKind.COUNSELLING else {"dap": {}}
    return _validated(content if content is not None else default, kind=kind, for_signing=False)


def _insert(
    *,
    actor: User,
    client: Client,
    kind: NoteKind,
    session_date: date,
    content: dict[str, Any],
    group_key: uuid.UUID | None,
) -> SessionNote:
    note = SessionNote(
        organisation_id=client.organisation_id,
        program_id=client.program_id,
        client=client,
        author=actor,
        kind=kind,
        session_date=session_date,
        content=content,
        group_key=group_key,
        cosign_required=actor.is_trainee,
    )
    note.full_clean()
    note.save()
    return note


def note_create(
    *,
    actor: User,
    client: Client,
    kind: NoteKind | str,
    session_date: date,
    content: dict[str, Any] | None = None,
) -> SessionNote:
    kind = NoteKind(kind)
    with writing(
        actor, Action.CREATE, client, _category(kind), Purpose.TREATMENT, detail={"kind": str(kind)}
    ) as grant:
        clean = _check_new(kind, session_date, content)
        note = _insert(
            actor=actor,
            client=client,
            kind=kind,
            session_date=session_date,
            content=clean,
            group_key=None,
        )
        grant.record_as(note)
    return note


def note_update_draft(
    *,
    actor: User,
    note: SessionNote,
    version: int,
    content: dict[str, Any],
    session_date: date | None = None,
) -> SessionNote:
    """Save a draft (autosave or the Save button). A stale version is a NoteConflict."""
    with writing(actor, Action.UPDATE, note, note.data_category, Purpose.TREATMENT):
        clean = _validated(content, kind=note.kind, for_signing=False)
        locked = _locked(note)
        if locked.status != NoteStatus.DRAFT:
            raise ImmutableRecord(
                "This note is signed; its content cannot change. Add an addendum."
            )
        if locked.author_id != actor.pk:
            raise Forbidden("Only the author edits a draft.")
        if locked.version != version:
            raise NoteConflict(
                "This draft was saved elsewhere since you opened it. Both versions are shown: "
                "copy what you need into the newest one.",
                current=locked,
                submitted=clean,
            )
        if session_date is not None and session_date > timezone.localdate():
            raise InvalidInput(
                "The session date cannot be in the future.",
                field_errors={"session_date": ["The session date cannot be in the future."]},
            )
        locked.content = clean
        if session_date is not None:
            locked.session_date = session_date
        locked.version += 1
        locked.save(update_fields=["content", "session_date", "version", "updated_at"])
    return locked


def note_sign(*, actor: User, note: SessionNote, version: int) -> SessionNote:
    """Freeze the content and store its digest. A trainee's note then awaits co-signature."""
    with writing(actor, Action.SIGN, note, note.data_category, Purpose.TREATMENT) as grant:
        locked = _locked(note)
        if locked.status != NoteStatus.DRAFT:
            raise ImmutableRecord("This note is already signed.")
        if locked.author_id != actor.pk:
            raise Forbidden("Only the author signs a note; a supervisor co-signs.")
        if locked.version != version:
            raise NoteConflict(
                "The draft changed since you opened it; review it before signing.",
                current=locked,
                submitted=locked.content,
            )
        locked.content = _validated(locked.content, kind=locked.kind, for_signing=True)
        locked.signed_at = timezone.now()
        locked.cosign_required = actor.is_trainee
        locked.status = NoteStatus.PENDING_COSIGN if actor.is_trainee else NoteStatus.FINAL
        grant.detail["status"] = str(locked.status)
        locked.signed_digest = locked.compute_digest()
        locked.version += 1
        locked.save(
            update_fields=[
                "content",
                "signed_at",
                "status",
                "signed_digest",
                "cosign_required",
                "version",
                "updated_at",
            ]
        )
    return locked


def note_cosign(*, actor: User, note: SessionNote) -> SessionNote:
    """A supervisor co-signs a trainee's signed note (supervision is the operations purpose)."""
    with writing(
        actor, Action.SIGN, note, note.data_category, Purpose.OPERATIONS, detail={"cosign": True}
    ):
        locked = _locked(note)
        if locked.status != NoteStatus.PENDING_COSIGN:
            raise InvalidInput("Only a signed note awaiting co-signature can be co-signed.")
        if locked.author_id == actor.pk:
            raise Forbidden("You cannot co-sign your own note.")
        if actor.is_trainee:
            raise Forbidden("A trainee cannot co-sign.")
        if not locked.digest_ok:
            raise ImmutableRecord("The note's content no longer matches its signature; report it.")
        locked.cosigned_by = actor
        locked.cosigned_at = timezone.now()
        locked.status = NoteStatus.FINAL
        locked.version += 1
        locked.save(update_fields=["cosigned_by", "cosigned_at", "status", "version", "updated_at"])
    return locked


def _append(*, actor: User, note: SessionNote, kind: AddendumKind, text: str) -> NoteAddendum:
    addendum = NoteAddendum(note=note, author=actor, kind=kind, text=text, signed_at=timezone.now())
    addendum.digest = addendum.compute_digest()
    addendum.save(force_insert=True)
    return addendum


def note_add_addendum(*, actor: User, note: SessionNote, text: str) -> NoteAddendum:
    """Append a signed addendum to a signed note; the original is never edited."""
    with writing(
        actor, Action.UPDATE, note, note.data_category, Purpose.TREATMENT, detail={"addendum": True}
    ):
        text = text.strip()
        if not text:
            raise InvalidInput(
                "The addendum is empty.", field_errors={"text": ["Write the addendum."]}
            )
        locked = _locked(note)
        if locked.status == NoteStatus.DRAFT:
            raise InvalidInput("Edit the draft itself; addenda are for signed notes.")
        addendum = _append(actor=actor, note=locked, kind=AddendumKind.ADDENDUM, text=text)
    return addendum


def note_mark_entered_in_error(*, actor: User, note: SessionNote, reason: str) -> SessionNote:
    """The note stays in the record, visibly marked, with who, when and why (the reason is kept
    in the note; the audit event says only that it was marked)."""
    with writing(
        actor,
        Action.UPDATE,
        note,
        note.data_category,
        Purpose.TREATMENT,
        detail={"entered_in_error": True},
    ):
        reason = reason.strip()
        if not reason:
            raise InvalidInput(
                "Say why the note is in error.", field_errors={"reason": ["Required."]}
            )
        locked = _locked(note)
        if locked.entered_in_error_at is not None:
            raise InvalidInput("This note is already marked entered in error.")
        supervising = decide(actor, Action.SIGN, locked, locked.data_category, Purpose.OPERATIONS)
        if locked.author_id != actor.pk and not supervising:
            raise Forbidden("Only the author or a supervisor marks a note entered in error.")
        locked.entered_in_error_at = timezone.now()
        locked.entered_in_error_by = actor
        locked.entered_in_error_reason = reason[:500]
        locked.version += 1
        locked.save(
            update_fields=[
                "entered_in_error_at",
                "entered_in_error_by",
                "entered_in_error_reason",
                "version",
                "updated_at",
            ]
        )
    return locked


def amendment_request_record(
    *, actor: User, note: SessionNote, requested_change: str
) -> AmendmentRequest:
    """Staff record a client's request to amend a signed note (45 CFR 164.526)."""
    with writing(
        actor,
        Action.UPDATE,
        note,
        note.data_category,
        Purpose.TREATMENT,
        detail={"amendment_request": True},
    ) as grant:
        requested_change = requested_change.strip()
        if not requested_change:
            raise InvalidInput(
                "Describe the requested change.", field_errors={"requested_change": ["Required."]}
            )
        if note.status == NoteStatus.DRAFT:
            raise InvalidInput("Amendments apply to signed notes.")
        request = AmendmentRequest.objects.create(
            note=note,
            requested_change=requested_change,
            received_by=actor,
            received_at=timezone.now(),
        )
        grant.detail["amendment_request"] = str(request.public_id)
    return request


def amendment_decide(
    *, actor: User, request: AmendmentRequest, accept: bool, reason: str = ""
) -> AmendmentRequest:
    """Accepted: the amendment is appended. Denied: the request and the denial are appended."""
    note = request.note
    with writing(
        actor,
        Action.SIGN,
        note,
        note.data_category,
        Purpose.TREATMENT,
        detail={
            "amendment": "accepted" if accept else "denied",
            "amendment_request": str(request.public_id),
        },
    ):
        reason = reason.strip()
        if not accept and not reason:
            raise InvalidInput(
                "A denial needs its reason (the client is told it).",
                field_errors={"reason": ["Required when denying."]},
            )
        locked = AmendmentRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != AmendmentStatus.PENDING:
            raise InvalidInput("This request was already decided.")
        if accept:
            text = f"Amendment at the client's request: {locked.requested_change}"
            if reason:
                text += f"\nNote: {reason}"
            kind = AddendumKind.AMENDMENT
        else:
            text = f"The client requested an amendment: {locked.requested_change}\nDenied: {reason}"
            kind = AddendumKind.AMENDMENT_DENIED
        locked.addendum = _append(actor=actor, note=note, kind=kind, text=text)
        locked.status = AmendmentStatus.ACCEPTED if accept else AmendmentStatus.DENIED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_reason = reason
        locked.save()
    return locked


def group_notes_create(
    *,
    actor: User,
    clients: Sequence[Client],
    session_date: date,
    shared: str,
    individual: dict[uuid.UUID, dict[str, str]] | None = None,
) -> list[SessionNote]:
    """One note per attendee: the shared part copied into each, plus each one's own DAP.

    One write with one audit event: the first attendee's note is the write, and each other
    attendee's note is decided and named in the same event (a nested ``writing``, its
    ``detail["also"]``). Every attendee is decided before anything is validated or written, and
    all notes are written in one transaction, so a refusal for one attendee writes none.
    """
    if not clients:
        raise InvalidInput("Choose the attendees.", field_errors={"clients": ["Required."]})
    first, *others = clients
    for client in others:
        check(
            actor,
            Action.CREATE,
            client,
            DataCategory.CLINICAL_RECORD,
            Purpose.TREATMENT,
            detail={"kind": "group"},
        )
    individual = individual or {}
    key = uuid.uuid4()

    def insert(client: Client, content: dict[str, Any]) -> SessionNote:
        return _insert(
            actor=actor,
            client=client,
            kind=NoteKind.GROUP,
            session_date=session_date,
            content=content,
            group_key=key,
        )

    with writing(
        actor,
        Action.CREATE,
        first,
        DataCategory.CLINICAL_RECORD,
        Purpose.TREATMENT,
        detail={"kind": "group", "group_key": str(key), "attendees": len(clients)},
    ) as grant:
        contents = {
            c.public_id: _check_new(
                NoteKind.GROUP,
                session_date,
                {"group": {"shared": shared}, "dap": individual.get(c.public_id, {})},
            )
            for c in clients
        }
        notes = [insert(first, contents[first.public_id])]
        grant.record_as(notes[0])
        for client in others:
            with writing(
                actor,
                Action.CREATE,
                client,
                DataCategory.CLINICAL_RECORD,
                Purpose.TREATMENT,
                detail={"kind": "group"},
            ) as each:
                notes.append(insert(client, contents[client.public_id]))
                each.record_as(notes[-1])
    return notes
