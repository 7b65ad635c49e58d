"""Reads of session notes, each through the access policy (and so the audit trail)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db.models import Count, Prefetch, Q, QuerySet

from iptcare.access.policy import authorize, decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.errors import NotFound
from iptcare.encounters.models import NoteAddendum, NoteKind, NoteStatus, SessionNote


def _notes() -> QuerySet[SessionNote]:
    return SessionNote.objects.select_related(
        "client__organisation", "client__program", "author", "cosigned_by", "entered_in_error_by"
    ).prefetch_related(
        Prefetch("addenda", queryset=NoteAddendum.objects.select_related("author")),
        "amendment_requests",
    )


def note_get(*, actor: User, public_id: UUID, purpose: Purpose = Purpose.TREATMENT) -> SessionNote:
    """One note. A counselling note is open to its author, and to supervision (operations)."""
    note = _notes().filter(public_id=public_id).first()
    if note is None:
        raise NotFound("No such note.")
    if note.kind == NoteKind.COUNSELLING and note.author_id != actor.pk:
        purpose = Purpose.OPERATIONS
    authorize(actor, Action.VIEW, note, note.data_category, purpose)
    return note


def client_notes(*, actor: User, client: Client, limit: int = 200) -> list[SessionNote]:
    """The client's notes for the chart, newest first, addenda included (fixed query count).

    Progress notes need CLINICAL_RECORD view; counselling notes appear only to their author.
    """
    authorize(
        actor,
        Action.LIST,
        client,
        DataCategory.CLINICAL_RECORD,
        Purpose.TREATMENT,
        detail={"notes": True},
    )
    qs = (
        SessionNote.objects.filter(client=client)
        .filter(~Q(kind=NoteKind.COUNSELLING) | Q(author=actor))
        .select_related("author", "cosigned_by", "entered_in_error_by")
        .prefetch_related(
            Prefetch("addenda", queryset=NoteAddendum.objects.select_related("author")),
            "amendment_requests",
        )
        .order_by("-session_date", "-created_at")
    )
    notes = list(qs[:limit])
    for note in notes:  # one client: no need to join it into every row
        note.client = client
    return notes


def client_timeline_notes(*, actor: User, client: Client, limit: int) -> list[SessionNote]:
    """The latest notes for the chart's timeline: what the timeline shows and nothing more (no
    note content, no amendment requests; authors' names only). Same access and audit as
    ``client_notes``; two queries whatever the history: the notes, and their addenda, which
    each note carries as ``timeline_addenda`` (oldest first)."""
    authorize(
        actor,
        Action.LIST,
        client,
        DataCategory.CLINICAL_RECORD,
        Purpose.TREATMENT,
        detail={"notes": True},
    )
    notes: list[SessionNote] = list(
        SessionNote.objects.filter(client=client)
        .filter(~Q(kind=NoteKind.COUNSELLING) | Q(author=actor))
        .select_related("author")
        .only(
            "public_id",
            "client_id",
            "kind",
            "session_date",
            "status",
            "signed_at",
            "created_at",
            "entered_in_error_at",
            "author__full_name",
        )
        .prefetch_related(
            Prefetch(
                "addenda",
                queryset=NoteAddendum.objects.select_related("author")
                .only("note_id", "kind", "text", "signed_at", "author__full_name")
                .order_by("signed_at", "id"),
                to_attr="timeline_addenda",
            )
        )
        .order_by("-session_date", "-created_at")[:limit]
    )
    for note in notes:
        note.client = client
    return notes


def unsigned_note_counts(*, author: User, client_ids: Iterable[int]) -> dict[int, int]:
    """Drafts by ``author`` per client (caseload column), in one query. No clinical content."""
    rows = (
        SessionNote.objects.filter(
            author=author,
            client_id__in=list(client_ids),
            status=NoteStatus.DRAFT,
            entered_in_error_at__isnull=True,
        )
        .values("client_id")
        .annotate(n=Count("id"))
    )
    return {r["client_id"]: r["n"] for r in rows}


def cosign_queue(*, actor: User) -> list[SessionNote]:
    """Signed notes awaiting co-signature in programs the actor may supervise."""
    if actor.organisation_id is None:
        return []
    candidates = list(
        _notes()
        .filter(organisation_id=actor.organisation_id, status=NoteStatus.PENDING_COSIGN)
        .exclude(author=actor)
        .order_by("signed_at")[:200]
    )
    return [
        n for n in candidates if decide(actor, Action.SIGN, n, n.data_category, Purpose.OPERATIONS)
    ]
