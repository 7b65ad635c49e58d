"""A therapist opens a client from the caseload, writes and signs a note, adds an addendum,
and sees both on the chart's timeline — in Debian's Chromium."""

from __future__ import annotations

import base64
import re
from datetime import date, timedelta

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.encounters.models import NoteAddendum, NoteStatus, SessionNote
from tests.conftest import PASSWORD
from tests.helpers import totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_write_sign_and_amend_a_note(
    live_server: object, theo: User, client_record: Client, page: Page
) -> None:
    Episode.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        client=client_record,
        status="admitted",
        primary_clinician=theo,
        referral_date=date.today() - timedelta(days=30),
        referral_source="individual",
        admission_date=date.today() - timedelta(days=28),
        level_of_care="1",
    )
    device = TOTPDevice.objects.create(user=theo, name="phone", confirmed=True)
    secret = base64.b32encode(device.bin_key).decode()
    base = str(live_server)

    page.goto(f"{base}/account/login/")
    page.get_by_label("Email").fill("theo@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("6-digit code from your authenticator app").fill(totp(secret))
    page.get_by_role("button", name="Verify").click()

    page.get_by_role("link", name="Caseload").click()
    page.get_by_role("link", name=re.compile("Wren Testbrook")).click()
    expect(page.get_by_role("heading", name="Wren Testbrook")).to_be_visible()

    page.get_by_role("link", name="New note").click()
    page.get_by_label("Session date").fill((date.today() - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Start draft").click()
    # The editor's script listens for typing once the page has loaded: typing earlier would
    # never reach autosave (this made the test flaky).
    expect(page).to_have_url(re.compile(r"/notes/[0-9a-f-]+/$"))
    page.wait_for_load_state("load")

    page.get_by_label("Data").fill("Client described a difficult call with a sibling.")
    # Autosave runs while typing; its status line reports the save.
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved", timeout=10000)
    page.get_by_label("Assessment").fill("Low mood linked to the dispute; no use reported.")
    page.get_by_label("Plan").fill("Communication analysis next session.")
    page.get_by_role("button", name="Sign note").click()
    expect(page.get_by_test_id("digest-ok")).to_be_visible()

    page.get_by_label("Addendum").fill("Client phoned later to say the call went better.")
    page.get_by_role("button", name="Sign addendum").click()
    expect(page.get_by_test_id("addendum")).to_contain_text("went better")

    page.get_by_role("link", name=re.compile("Wren Testbrook")).click()
    timeline = page.get_by_test_id("timeline")
    expect(timeline.get_by_test_id("timeline-note")).to_contain_text("Final")
    expect(timeline.get_by_test_id("timeline-addendum")).to_contain_text("went better")

    note = SessionNote.objects.get(client=client_record)
    assert note.status == NoteStatus.FINAL and note.digest_ok
    assert note.content["dap"]["plan"] == "Communication analysis next session."
    assert NoteAddendum.objects.filter(note=note).count() == 1


def test_autosave_conflict_shows_both_texts_and_continues_on_the_newest_version(
    live_server: object, theo: User, client_record: Client, page: Page
) -> None:
    """The same draft saved from another device while this window is typing: autosave stops,
    shows the other text beside this one, and after "continue" saves this text on top of the
    newest version — nothing is overwritten silently."""
    from iptcare.encounters import services

    device = TOTPDevice.objects.create(user=theo, name="phone", confirmed=True)
    secret = base64.b32encode(device.bin_key).decode()
    note = services.note_create(
        actor=theo,
        client=client_record,
        kind="individual",
        session_date=date.today() - timedelta(days=1),
    )
    base = str(live_server)
    page.goto(f"{base}/account/login/")
    page.get_by_label("Email").fill("theo@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("6-digit code from your authenticator app").fill(totp(secret))
    page.get_by_role("button", name="Verify").click()

    expect(page.get_by_role("link", name="Caseload")).to_be_visible()  # signed in
    page.goto(f"{base}/notes/{note.public_id}/")
    expect(page.locator("#autosave-status")).to_have_text("Drafts save automatically.")
    page.get_by_label("Data").fill("Written on the laptop.")
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved", timeout=10000)
    # Meanwhile the tablet saves the same draft (version 2 -> 3).
    services.note_update_draft(
        actor=theo, note=note, version=2, content={"dap": {"data": "Written on the tablet."}}
    )
    page.get_by_label("Assessment").fill("Added on the laptop.")
    panel = page.locator("#autosave-conflict")
    expect(panel).to_be_visible(timeout=10000)
    expect(page.locator("#autosave-their-text")).to_contain_text("Written on the tablet.")
    expect(page.get_by_label("Data")).to_have_value("Written on the laptop.")  # mine, kept
    note.refresh_from_db()
    assert (note.version, note.content["dap"]["data"]) == (3, "Written on the tablet.")

    page.get_by_role("button", name=re.compile("Continue from the newest version")).click()
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved", timeout=10000)
    expect(panel).to_be_hidden()
    note.refresh_from_db()
    assert note.version == 4
    assert note.content["dap"]["data"] == "Written on the laptop."
    assert note.content["dap"]["assessment"] == "Added on the laptop."
