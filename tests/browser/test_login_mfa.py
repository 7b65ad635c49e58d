"""A real browser: sign in with a password, enrol TOTP, see the home page, log out."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from iptcare.accounts.models import User
from iptcare.core.models import Program
from tests.conftest import PASSWORD
from tests.helpers import totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_with_mfa_home_and_logout(live_server: object, theo: User, page: Page) -> None:
    base = str(live_server)
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/account/login/"))
    page.get_by_label("Email").fill("theo@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # First sign-in: enrol an authenticator. Read the key the page offers for manual entry.
    expect(page.get_by_role("heading", name="Set up your authenticator")).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_label("6-digit code from your authenticator app").fill(totp(secret))
    page.get_by_role("button", name="Verify").click()

    expect(page.get_by_role("heading", name=re.compile("Welcome, Theo"))).to_be_visible()
    expect(page.get_by_role("link", name="Northside")).to_be_visible()
    assert Session.objects.filter(expire_date__gt=timezone.now()).count() == 1

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/account/login/"))
    assert Session.objects.filter(expire_date__gt=timezone.now()).count() == 0
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/account/login/"))

    # Second sign-in asks for a code (no new enrolment); a code from the next step works.
    page.get_by_label("Email").fill("theo@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("6-digit code from your authenticator app").fill("12345x")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".field-error")).to_contain_text("6 digits")
    next_step = (timezone.now() + timedelta(seconds=30)).timestamp()
    page.get_by_label("6-digit code from your authenticator app").fill(totp(secret, at=next_step))
    page.get_by_role("button", name="Verify").click()
    # django-otp accepts one step of drift; the code for the next step is valid now.
    expect(page.get_by_role("heading", name=re.compile("Welcome, Theo"))).to_be_visible()


def test_admin_adds_staff_member_in_the_browser(
    live_server: object, alice: User, northside: Program, page: Page
) -> None:
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    secret = base64.b32encode(device.bin_key).decode()
    base = str(live_server)
    page.goto(f"{base}/account/login/")
    page.get_by_label("Email").fill("alice@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("6-digit code from your authenticator app").fill(totp(secret))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("link", name="Staff and roles").click()
    page.get_by_role("link", name="Add staff member").click()
    # Bad input first: field-level messages, nothing saved.
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".field-error").first).to_be_visible()
    assert not User.objects.filter(full_name="Nora Newcomer").exists()
    page.get_by_label("Email").fill("nora@example.org")
    page.get_by_label("Full name").fill("Nora Newcomer")
    page.get_by_label("Nurse").check()
    page.get_by_label("Northside").check()
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("link", name="Nora Newcomer")).to_be_visible()
    nora = User.objects.get(email="nora@example.org")
    assert [g.role for g in nora.role_grants.all()] == ["nurse"]
