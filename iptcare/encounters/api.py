from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from iptcare.accounts.models import User
from iptcare.clients.selectors import client_get
from iptcare.core.errors import NotFound
from iptcare.encounters import services
from iptcare.encounters.models import AmendmentRequest, NoteKind, SessionNote
from iptcare.encounters.selectors import client_notes, note_get

router = Router(tags=["notes"])


class AddendumOut(Schema):
    id: UUID
    kind: str
    author: str
    text: str
    signed_at: datetime


class AmendmentOut(Schema):
    id: UUID
    requested_change: str
    status: str
    received_at: datetime
    decided_at: datetime | None
    decision_reason: str


class NoteOut(Schema):
    id: UUID
    client: UUID
    author: str
    kind: NoteKind
    session_date: date
    status: str
    version: int
    content: dict[str, dict[str, Any]]
    signed_at: datetime | None
    signed_digest: str
    digest_ok: bool
    cosign_required: bool
    cosigned_by: str | None
    cosigned_at: datetime | None
    entered_in_error: bool
    entered_in_error_reason: str
    addenda: list[AddendumOut]
    amendment_requests: list[AmendmentOut]


class NoteCreateIn(Schema):
    kind: NoteKind = NoteKind.INDIVIDUAL
    session_date: date
    content: dict[str, dict[str, Any]] | None = None


class DraftIn(Schema):
    version: int
    content: dict[str, dict[str, Any]]
    session_date: date | None = None


class SignIn(Schema):
    version: int


class TextIn(Schema):
    text: str = Field(min_length=1, max_length=10000)


class ReasonIn(Schema):
    reason: str = Field(min_length=1, max_length=500)


class AmendmentIn(Schema):
    requested_change: str = Field(min_length=1, max_length=5000)


class DecisionIn(Schema):
    accept: bool
    reason: str = ""


def _out(note: SessionNote) -> NoteOut:
    return NoteOut(
        id=note.public_id,
        client=note.client.public_id,
        author=note.author.full_name,
        kind=NoteKind(note.kind),
        session_date=note.session_date,
        status=note.status,
        version=note.version,
        content=note.content,
        signed_at=note.signed_at,
        signed_digest=note.signed_digest,
        digest_ok=note.digest_ok,
        cosign_required=note.cosign_required,
        cosigned_by=note.cosigned_by.full_name if note.cosigned_by else None,
        cosigned_at=note.cosigned_at,
        entered_in_error=note.is_entered_in_error,
        entered_in_error_reason=note.entered_in_error_reason,
        addenda=[
            AddendumOut(
                id=a.public_id,
                kind=a.kind,
                author=a.author.full_name,
                text=a.text,
                signed_at=a.signed_at,
            )
            for a in note.addenda.all()
        ],
        amendment_requests=[
            AmendmentOut(
                id=r.public_id,
                requested_change=r.requested_change,
                status=r.status,
                received_at=r.received_at,
                decided_at=r.decided_at,
                decision_reason=r.decision_reason,
            )
            for r in note.amendment_requests.all()
        ],
    )


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _reload(request: HttpRequest, note: SessionNote) -> NoteOut:
    return _out(note_get(actor=_actor(request), public_id=note.public_id))


@router.get("/clients/{client_id}/notes", response=list[NoteOut], summary="A client's notes")
def list_notes(request: HttpRequest, client_id: UUID) -> list[NoteOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    return [_out(n) for n in client_notes(actor=actor, client=client)]


@router.post("/clients/{client_id}/notes", response={201: NoteOut}, summary="Start a draft note")
def create_note(request: HttpRequest, client_id: UUID, payload: NoteCreateIn) -> Status[NoteOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    note = services.note_create(
        actor=actor,
        client=client,
        kind=payload.kind,
        session_date=payload.session_date,
        content=payload.content,
    )
    return Status(201, _reload(request, note))


@router.get("/notes/{note_id}", response=NoteOut, summary="One note")
def get_note(request: HttpRequest, note_id: UUID) -> NoteOut:
    return _out(note_get(actor=_actor(request), public_id=note_id))


@router.put(
    "/notes/{note_id}/draft",
    response=NoteOut,
    url_name="note_draft",
    summary="Save a draft (409 with both versions if stale)",
)
def save_draft(request: HttpRequest, note_id: UUID, payload: DraftIn) -> NoteOut:
    actor = _actor(request)
    note = note_get(actor=actor, public_id=note_id)
    services.note_update_draft(
        actor=actor,
        note=note,
        version=payload.version,
        content=payload.content,
        session_date=payload.session_date,
    )
    return _reload(request, note)


@router.post("/notes/{note_id}/sign", response=NoteOut, summary="Sign a draft")
def sign(request: HttpRequest, note_id: UUID, payload: SignIn) -> NoteOut:
    actor = _actor(request)
    note = note_get(actor=actor, public_id=note_id)
    services.note_sign(actor=actor, note=note, version=payload.version)
    return _reload(request, note)


@router.post("/notes/{note_id}/cosign", response=NoteOut, summary="Co-sign a trainee's note")
def cosign(request: HttpRequest, note_id: UUID) -> NoteOut:
    actor = _actor(request)
    note = note_get(actor=actor, public_id=note_id)
    services.note_cosign(actor=actor, note=note)
    return _reload(request, note)


@router.post("/notes/{note_id}/addenda", response={201: NoteOut}, summary="Append an addendum")
def addendum(request: HttpRequest, note_id: UUID, payload: TextIn) -> Status[NoteOut]:
    actor = _actor(request)
    note = note_get(actor=actor, public_id=note_id)
    services.note_add_addendum(actor=actor, note=note, text=payload.text)
    return Status(201, _reload(request, note))


@router.post(
    "/notes/{note_id}/entered-in-error", response=NoteOut, summary="Mark a note entered in error"
)
def entered_in_error(request: HttpRequest, note_id: UUID, payload: ReasonIn) -> NoteOut:
    actor = _actor(request)
    note = note_get(actor=actor, public_id=note_id)
    services.note_mark_entered_in_error(actor=actor, note=note, reason=payload.reason)
    return _reload(request, note)


@router.post(
    "/notes/{note_id}/amendment-requests",
    response={201: AmendmentOut},
    summary="Record a client's amendment request",
)
def amendment_request(
    request: HttpRequest, note_id: UUID, payload: AmendmentIn
) -> Status[AmendmentOut]:
    actor = _actor(request)
    note = note_get(actor=actor, public_id=note_id)
    r = services.amendment_request_record(
        actor=actor, note=note, requested_change=payload.requested_change
    )
    return Status(
        201,
        AmendmentOut(
            id=r.public_id,
            requested_change=r.requested_change,
            status=r.status,
            received_at=r.received_at,
            decided_at=r.decided_at,
            decision_reason=r.decision_reason,
        ),
    )


@router.post(
    "/amendment-requests/{request_id}/decision",
    response=NoteOut,
    summary="Accept or deny an amendment request",
)
def amendment_decision(request: HttpRequest, request_id: UUID, payload: DecisionIn) -> NoteOut:
    actor = _actor(request)
    req = AmendmentRequest.objects.select_related("note").filter(public_id=request_id).first()
    if req is None:
        raise NotFound("No such request.")
    note = note_get(actor=actor, public_id=req.note.public_id)
    req.note = note
    services.amendment_decide(
        actor=actor, request=req, accept=payload.accept, reason=payload.reason
    )
    return _reload(request, note)


class GroupNotesIn(Schema):
    clients: list[UUID] = Field(min_length=1, max_length=40)
    session_date: date
    shared: str = Field(max_length=10000)
    individual: dict[UUID, dict[str, str]] = {}


@router.post(
    "/group-notes",
    response={201: list[NoteOut]},
    summary="Draft one note per group attendee (shared + individual part)",
)
def group_notes(request: HttpRequest, payload: GroupNotesIn) -> Status[list[NoteOut]]:
    actor = _actor(request)
    clients = [client_get(actor=actor, public_id=c) for c in dict.fromkeys(payload.clients)]
    created = services.group_notes_create(
        actor=actor,
        clients=clients,
        session_date=payload.session_date,
        shared=payload.shared,
        individual=payload.individual,
    )
    return Status(201, [_reload(request, n) for n in created])
