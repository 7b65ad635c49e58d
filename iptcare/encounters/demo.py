"""Demo notes written from templates, signed (with real digests), in bulk. No audit events.

Every sentence is generic and fictional; notes never name other people.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from iptcare.encounters.models import NoteKind, NoteStatus, SessionNote, note_digest

DATA = {
    "ipt": [
        "Reviewed the week since last session; client described a tense conversation with a "
        "family member and linked it to a low mood the following day.",
        "Explored the role change since entering recovery; client named what they miss about "
        "the old routine and what feels better now.",
        "Communication analysis of a disagreement at home: what was said, what was meant, and "
        "what the client hoped would happen.",
    ],
    "cbt": [
        "Reviewed the craving log: three cravings, two managed with urge surfing.",
        "Identified high-risk situations for the weekend and rehearsed refusal skills.",
    ],
    "mi": [
        "Explored ambivalence about cutting down; client voiced reasons for change.",
        "Reflected change talk about health and work; readiness rose from 5 to 7 of 10.",
    ],
    "medication": [
        "Medication review: client reports taking doses as prescribed; no side effects noted.",
        "Discussed missed doses last week and a plan for reminders.",
    ],
    "other": ["Case review and practical support with housing paperwork."],
}
ASSESSMENT = [
    "Mood somewhat improved; no use reported since last session.",
    "Engaged and reflective; cravings present but managed.",
    "Mood low this week; reported one day of use; no safety concerns voiced.",
    "Progress steady toward the goals of the plan.",
]
PLAN = [
    "Continue weekly sessions; practise the agreed conversation before next visit.",
    "Keep the craving log; review at next session.",
    "Follow up on the support group schedule; next session in one week.",
]


@dataclass(frozen=True)
class AttendedSession:
    """What a demo note needs about one attended appointment (ids, not loaded objects)."""

    organisation_id: int
    program_id: int
    client_id: int
    client_public_id: uuid.UUID
    author_id: int
    author_public_id: uuid.UUID
    author_is_trainee: bool
    session_date: date
    modality: str


def generate(
    *,
    sessions: Iterable[AttendedSession],
    rng: random.Random,
    cosigner_by_program: dict[int, int] | None = None,
    draft_share: float = 0.08,
    per_client: int = 12,
    batch_size: int = 2000,
) -> int:
    """One signed note per attended session (the newest ``per_client`` per client); the newest
    note of some clients is left a draft, and some trainees' notes await co-signature."""
    by_client: dict[int, list[AttendedSession]] = {}
    for s in sessions:
        by_client.setdefault(s.client_id, []).append(s)
    notes: list[SessionNote] = []
    for client_sessions in by_client.values():
        client_sessions.sort(key=lambda s: s.session_date)
        chosen = client_sessions[-per_client:]
        for i, s in enumerate(chosen):
            modality = s.modality.lower() if s.modality.lower() in DATA else "other"
            kind = NoteKind.MEDICATION if modality == "medication" else NoteKind.INDIVIDUAL
            content = {
                "dap": {
                    "data": rng.choice(DATA[modality]),
                    "assessment": rng.choice(ASSESSMENT),
                    "plan": rng.choice(PLAN),
                }
            }
            note = SessionNote(
                public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                organisation_id=s.organisation_id,
                program_id=s.program_id,
                client_id=s.client_id,
                author_id=s.author_id,
                kind=kind,
                session_date=s.session_date,
                content=content,
                cosign_required=s.author_is_trainee,
            )
            newest = i == len(chosen) - 1
            if newest and rng.random() < draft_share:
                note.status = NoteStatus.DRAFT
            else:
                note.signed_at = datetime.combine(s.session_date, time(17, 30), tzinfo=UTC) + (
                    timedelta(minutes=rng.randint(0, 600))
                )
                cosigner = (cosigner_by_program or {}).get(s.program_id)
                pending = s.author_is_trainee and (
                    cosigner is None or (newest and rng.random() < 0.5)
                )
                note.status = NoteStatus.PENDING_COSIGN if pending else NoteStatus.FINAL
                if s.author_is_trainee and not pending:
                    note.cosigned_by_id = cosigner
                    note.cosigned_at = note.signed_at + timedelta(days=1)
                note.signed_digest = note_digest(
                    note=note.public_id,
                    client=s.client_public_id,
                    author=s.author_public_id,
                    kind=kind,
                    session_date=s.session_date,
                    content=content,
                    signed_at=note.signed_at,
                )
            notes.append(note)
    SessionNote.objects.bulk_create(notes, batch_size=batch_size)
    return len(notes)
