"""A client completes the PHQ-9 from a single-use link on a phone-sized screen; the therapist
then sees the score on the progress chart and the safety alert — in Debian's Chromium."""

from __future__ import annotations

import base64
import re
from datetime import date, timedelta

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, Page, expect

from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.measures.models import Administration, Alert
from tests.conftest import PASSWORD
from tests.helpers import totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Page, base: str, user: User) -> None:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    page.goto(f"{base}/account/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    code = totp(base64.b32encode(device.bin_key).decode())
    page.get_by_label("6-digit code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify").click()


def test_client_completes_phq9_on_a_phone_and_therapist_sees_chart_and_alert(
    live_server: object, theo: User, client_record: Client, page: Page, browser: Browser
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
    base = str(live_server)
    _login(page, base, theo)
    page.goto(f"{base}/clients/{client_record.public_id}/")
    page.get_by_role("link", name="Measures").click()
    page.get_by_label("Instrument").select_option("phq-9")
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_test_id("measure-link").inner_text()
    assert re.search(r"/m/[\w-]+/$", link)

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    client_page = phone.new_page()
    client_page.set_default_timeout(15000)
    client_page.goto(link)
    expect(client_page.get_by_role("heading", name=re.compile("PHQ-9"))).to_be_visible()
    items = client_page.get_by_test_id("item")
    expect(items).to_have_count(9)
    answers = ["Several days", "Not at all", "Several days", "Not at all", "Not at all",
               "Not at all", "Not at all", "Not at all", "Several days"]  # fmt: skip
    for n, answer in enumerate(answers):
        items.nth(n).get_by_label(answer, exact=True).check()
    # The form fits the phone: no sideways scrolling.
    assert client_page.evaluate("document.documentElement.scrollWidth") <= 390
    client_page.get_by_role("button", name="Submit").click()
    expect(client_page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(client_page.get_by_test_id("crisis")).to_be_visible()
    # Single use: opening it again finds nothing.
    client_page.goto(link)
    expect(client_page.get_by_text("Thank you")).to_have_count(0)
    phone.close()

    administration = Administration.objects.get()
    assert administration.total == 3 and administration.mode == "link"
    page.goto(f"{base}/clients/{client_record.public_id}/measures/")
    series = page.get_by_test_id("series-phq-9")
    expect(series.locator("circle.score")).to_have_count(1)
    expect(series.get_by_role("img", name=re.compile("PHQ-9"))).to_be_visible()
    expect(page.get_by_test_id("client-alerts")).to_contain_text("Safety")

    page.get_by_role("link", name="Alerts").first.click()
    row = page.get_by_test_id("alerts-mine").get_by_test_id("alert-row")
    expect(row).to_have_count(1)
    row.get_by_role("link", name=re.compile("Safety")).click()
    page.get_by_label("Action note").fill("Called the client; safety plan reviewed together.")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_test_id("alert-status")).to_contain_text("Acknowledged")
    assert Alert.objects.get().status == "acknowledged"
