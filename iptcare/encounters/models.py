"""Session notes: drafted, signed (frozen, with a digest), co-signed, amended by addenda, marked
entered-in-error — never edited after signing, never deleted (DESIGN invariant 4).

The database enforces it too (migration 0002): signed content cannot be updated, notes cannot be
deleted, addenda and amendment decisions cannot be changed at all.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import models

from iptcare.access.scope import ResourceScope
from iptcare.access.vocabulary import DataCategory
from iptcare.clients.models import Client
from iptcare.core.errors import DomainError
from iptcare.core.models import Organisation, Program, PublicIdModel


def note_digest(
    *,
    note: uuid.UUID,
    client: uuid.UUID,
    author: uuid.UUID,
    kind: str,
    session_date: date,
    content: Any,
    signed_at: datetime | None,
) -> str:
    """SHA-256 over the signed content and who/when/whom it is about (canonical JSON)."""
    payload = {
        "note": str(note),
        "client": str(client),
        "author": str(author),
        "kind": str(kind),
        "session_date": session_date.isoformat(),
        "content": content,
        "signed_at": signed_at.isoformat() if signed_at else None,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class ImmutableRecord(DomainError):
    status = 409
    title = "Signed records cannot be changed"


class NoteKind(models.TextChoices):
    INDIVIDUAL = "individual", "Individual session"
    GROUP = "group", "Group session"
    FAMILY = "family", "Family session"
    INTAKE = "intake", "Intake"
    MEDICATION = "medication", "Medication management"
    CASE_MANAGEMENT = "case_management", "Case management"
    PEER_SUPPORT = "peer_support", "Peer support"
    COUNSELLING = "counselling", "Counselling (psychotherapy) note"


class NoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_COSIGN = "pending_cosign", "Signed, awaiting co-signature"
    FINAL = "final", "Final"


# Fields frozen once a note leaves draft (triggers.py lists the same columns).
FROZEN_FIELDS = (
    "client_id",
    "author_id",
    "kind",
    "session_date",
    "content",
    "signed_at",
    "signed_digest",
    "organisation_id",
    "program_id",
    "cosign_required",
    "group_key",
)
# Fields that keep their value once filled, whatever the status (triggers.py too).
SET_ONCE_FIELDS = (
    "cosigned_by_id",
    "cosigned_at",
    "entered_in_error_at",
    "entered_in_error_by_id",
)


class SessionNote(PublicIdModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_notes"
    )
    kind = models.CharField(max_length=20, choices=NoteKind.choices)
    session_date = models.DateField()
    content = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=NoteStatus.choices, default=NoteStatus.DRAFT)
    version = models.PositiveIntegerField(default=1)
    # Notes written together for a group share this key (one note per attendee).
    group_key = models.UUIDField(null=True, blank=True, db_index=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_digest = models.CharField(max_length=64, blank=True)
    cosign_required = models.BooleanField(default=False)
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entered_in_error_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-session_date", "-created_at"]
        indexes = [
            # Chart timeline: one client's notes, newest first.
            models.Index(fields=["client", "-session_date"], name="note_client_date"),
            # Caseload: my unsigned drafts; supervisor's co-signature queue.
            models.Index(fields=["author", "status"], name="note_author_status"),
            models.Index(fields=["program", "status"], name="note_program_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(signed_at__isnull=False),
                name="note_signed_has_time",
            ),
            # A trainee's note is final only once a supervisor has co-signed it.
            models.CheckConstraint(
                condition=~models.Q(status="final", cosign_required=True, cosigned_by__isnull=True),
                name="note_final_is_cosigned_when_required",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} note {self.session_date} ({self.status})"

    @property
    def data_category(self) -> DataCategory:
        if self.kind == NoteKind.COUNSELLING:
            return DataCategory.COUNSELLING_NOTES
        return DataCategory.CLINICAL_RECORD

    @property
    def is_signed(self) -> bool:
        return self.status != NoteStatus.DRAFT

    @property
    def is_entered_in_error(self) -> bool:
        return self.entered_in_error_at is not None

    @property
    def access_scope(self) -> ResourceScope:
        return ResourceScope(
            organisation_id=self.organisation_id,
            organisation_public_id=self.client.organisation.public_id,
            program_id=self.program_id,
            resource_type="session_note",
            resource_id=str(self.public_id),
            client_id=self.client.public_id,
        )

    def compute_digest(self) -> str:
        return note_digest(
            note=self.public_id,
            client=self.client.public_id,
            author=self.author.public_id,
            kind=self.kind,
            session_date=self.session_date,
            content=self.content,
            signed_at=self.signed_at,
        )

    @property
    def digest_ok(self) -> bool:
        return not self.is_signed or self.compute_digest() == self.signed_digest

    def save(self, *args: Any, **kwargs: Any) -> None:
        """The ORM path refuses what the database triggers refuse (admin, shell, code): a
        signed note's content, a return to draft or from final, and a recorded co-signature or
        entered-in-error mark changed or taken back."""
        if self.pk is not None:
            names = [f.removesuffix("_id") for f in (*FROZEN_FIELDS, *SET_ONCE_FIELDS)]
            stored = (
                SessionNote.objects.filter(pk=self.pk)
                .values("status", "entered_in_error_reason", *names)
                .first()
            )
            if stored is not None:
                self._check_unchanged(stored)
        super().save(*args, **kwargs)

    def _check_unchanged(self, stored: dict[str, Any]) -> None:
        if stored["status"] != NoteStatus.DRAFT:
            for f in FROZEN_FIELDS:
                if stored[f.removesuffix("_id")] != getattr(self, f):
                    raise ImmutableRecord(
                        "This note is signed; its content cannot change. Add an addendum."
                    )
            if self.status == NoteStatus.DRAFT:
                raise ImmutableRecord("A signed note cannot return to draft.")
            if stored["status"] == NoteStatus.FINAL and self.status != NoteStatus.FINAL:
                raise ImmutableRecord("A final note stays final.")
        for f in SET_ONCE_FIELDS:
            old = stored[f.removesuffix("_id")]
            if old is not None and old != getattr(self, f):
                raise ImmutableRecord("A recorded co-signature or entered-in-error mark stays.")
        if (
            stored["entered_in_error_at"] is not None
            and stored["entered_in_error_reason"] != self.entered_in_error_reason
        ):
            raise ImmutableRecord("A recorded co-signature or entered-in-error mark stays.")

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord("Notes are never deleted; mark the note entered in error instead.")


class AddendumKind(models.TextChoices):
    ADDENDUM = "addendum", "Addendum"
    AMENDMENT = "amendment", "Amendment (client's request accepted)"
    AMENDMENT_DENIED = "amendment_denied", "Amendment request denied"


class NoteAddendum(models.Model):
    """Appended to a signed note and signed at once; never edited (trigger in migration 0002)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    note = models.ForeignKey(SessionNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(
        max_length=20, choices=AddendumKind.choices, default=AddendumKind.ADDENDUM
    )
    text = models.TextField()
    signed_at = models.DateTimeField()
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.note_id}"

    def compute_digest(self) -> str:
        payload = {
            "note": str(self.note.public_id),
            "author": str(self.author.public_id),
            "kind": self.kind,
            "text": self.text,
            "signed_at": self.signed_at.isoformat(),
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


class AmendmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DENIED = "denied", "Denied"


class AmendmentRequest(PublicIdModel):
    """A client's request to amend a note (45 CFR 164.526; ONC 170.315(d)(4))."""

    note = models.ForeignKey(
        SessionNote, on_delete=models.PROTECT, related_name="amendment_requests"
    )
    requested_change = models.TextField(help_text="What the client asks to be changed, and why.")
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=AmendmentStatus.choices, default=AmendmentStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    addendum = models.OneToOneField(
        NoteAddendum,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="amendment_request",
    )

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"Amendment request on {self.note_id} ({self.status})"
