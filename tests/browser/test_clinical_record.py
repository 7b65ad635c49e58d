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
