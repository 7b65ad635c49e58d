"""Signed notes as they are stored: the demo's (iptcare/encounters/demo.py, as `iptcare demo`
writes them: signed from templates, digests that re-check, a few drafts, trainee notes
co-signed or waiting), and a note whose stored content no longer matches its digest."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.encounters.models import NoteStatus, SessionNote
from iptcare.encounters.triggers import SIGNED_NOTES
from iptcare.scheduling.models import Appointment
from tests.encounters.test_notes import _api


@pytest.mark.django_db
def test_demo_notes_are_signed_from_templates_and_keep_the_rules() -> None:
    call_command("demo", "--clients", "60")
    notes = list(SessionNote.objects.select_related("client", "author"))
    signed = [n for n in notes if n.status != NoteStatus.DRAFT]
    assert len(signed) > 200 and 0 < len(notes) - len(signed) < len(notes) * 0.05
    assert all(n.digest_ok and n.signed_at is not None for n in signed)
    # From templates: each signed note has the general (DAP) part filled in.
    assert all(all(n.content["dap"].get(k) for k in ("data", "assessment", "plan")) for n in signed)
    # One note per attended session at most, written by the clinician who held it.
    attended = Appointment.objects.filter(status__in=["attended", "late"]).count()
    assert len(notes) <= attended
    assert not SessionNote.objects.exclude(author__role_grants__isnull=False).exists()
    # Trainees' notes: final only with a co-signer; the rest are waiting for one.
    trainee = [n for n in signed if n.cosign_required]
    assert trainee and all(
        (n.status == NoteStatus.FINAL) == (n.cosigned_by_id is not None) for n in trainee
    )
    assert any(n.status == NoteStatus.PENDING_COSIGN for n in trainee)
    assert not SessionNote.objects.filter(cosigned_at__lt=F("signed_at")).exists()
    assert not [n for n in signed if not n.cosign_required and n.status != NoteStatus.FINAL]


@pytest.mark.django_db
def test_a_signed_note_changed_behind_the_application_shows_it(
    signed: SessionNote, theo: User, login_as: Callable[[User], HttpClient]
) -> None:
    """The digest is re-checked on every read: content changed in the database directly
    (triggers lifted, as only someone with database access could) is flagged on the page and
    in the API, not shown as signed."""
    SIGNED_NOTES.remove(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE encounters_sessionnote SET content = %s WHERE id = %s",
                ['{"dap": {"data": "tampered", "assessment": "a", "plan": "p"}}', signed.pk],
            )
    finally:
        SIGNED_NOTES.install(connection)
    http = login_as(theo)
    page = http.get(f"/notes/{signed.public_id}/").content.decode()
    assert "content does not match its signature" in page and 'data-testid="digest-ok"' not in page
    body = http.get(f"/api/v1/notes/{signed.public_id}", **_api(theo)).json()
    assert body["digest_ok"] is False and body["signed_digest"] == signed.signed_digest
