"""Login like a health system: Argon2, password rules, lockout, TOTP MFA, timeouts, logout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from iptcare.access.vocabulary import Action
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.core.middleware import NoStoreMiddleware
from tests.conftest import PASSWORD
from tests.helpers import totp

LOGIN = "/account/login/"
MFA = "/account/mfa/"


def _login(http: HttpClient, email: str, password: str = PASSWORD) -> Any:
    return http.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR="10.9.8.7")


def _secret_from_enrolment_page(html: str) -> str:
    match = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html)
    assert match, "the enrolment page shows the key for manual entry"
    return match.group(1)


def _enrol_and_verify(http: HttpClient) -> str:
    page = http.get(MFA)
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code, inline (no script, no external image)
    secret = _secret_from_enrolment_page(page.content.decode())
    response = http.post(MFA, {"code": totp(secret)})
    assert response.status_code == 302
    return secret


def test_the_application_hashes_passwords_with_argon2(tmp_path: Path) -> None:
    """The suite hashes with a fast hasher (config/settings_test.py); the application's own
    settings — demo here, production alike — hash with Argon2."""
    code = (
        "from django.conf import settings; from django.contrib.auth.hashers import make_password;"
        " print(settings.PASSWORD_HASHERS[0]); print(make_password('x' * 16).split('$')[0])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IPTCARE_", "DJANGO_"))}
    env |= {"IPTCARE_DEMO": "1", "IPTCARE_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "iptcare"), "shell", "--no-imports", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["django.contrib.auth.hashers.Argon2PasswordHasher", "argon2"]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw-1", "at least 12 characters"),
        ("password1234", "too common"),
        ("123456789012", "entirely numeric"),
    ],
)
def test_weak_passwords_are_refused(password: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        password_validation.validate_password(password)


def test_login_is_by_email_case_insensitively(theo: User) -> None:
    http = HttpClient()
    response = _login(http, "THEO@Example.ORG")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=Action.LOGIN, actor_id=theo.public_id).count() == 1


def test_email_is_unique_case_insensitively(theo: User) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.bulk_create([User(email="Theo@Example.org", full_name="Impostor")])


def test_wrong_password_is_refused_and_audited(theo: User) -> None:
    http = HttpClient()
    response = _login(http, "theo@example.org", "not-the-password-at-all")
    assert response.status_code == 200
    assert b"Wrong email or password" in response.content
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert (event.actor_id, event.outcome, event.ip) == (theo.public_id, "failure", "10.9.8.7")


def test_lockout_after_repeated_failures_is_audited(theo: User) -> None:
    http = HttpClient()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(http, "theo@example.org", "wrong-password-again")
    response = _login(http, "theo@example.org")  # even the right password is refused now
    assert response.status_code == 429
    assert b"Account temporarily locked" in response.content
    assert AccessAttempt.objects.filter(username="theo@example.org").exists()
    assert AuditEvent.objects.filter(action=Action.LOCKOUT, actor_id=theo.public_id).exists()
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()


def test_mfa_enrolment_then_verification_with_our_own_totp(theo: User) -> None:
    http = HttpClient()
    assert _login(http, "theo@example.org").status_code == 302
    # Signed in with a password only: every page sends the user to MFA.
    response = http.get("/")
    assert response.status_code == 302 and response["Location"].startswith(MFA)
    secret = _enrol_and_verify(http)
    assert http.get("/").status_code == 200
    assert TOTPDevice.objects.get(user=theo).confirmed
    assert AuditEvent.objects.filter(action=Action.MFA_ENROLLED, actor_id=theo.public_id).exists()

    # Next login: a code is asked for, not a new enrolment; a wrong code is refused and audited.
    http2 = HttpClient()
    _login(http2, "theo@example.org")
    page = http2.get(MFA)
    assert b"Enter your code" in page.content and b"<svg" not in page.content
    wrong = http2.post(MFA, {"code": "000000" if totp(secret) != "000000" else "111111"})
    assert wrong.status_code == 400
    assert AuditEvent.objects.filter(action=Action.MFA_FAILED).count() == 1
    assert http2.get("/").status_code == 302
    # A code from the next time step (the old one was used for enrolment) is accepted.
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert http2.post(MFA, {"code": totp(secret)}).status_code == 302
        assert http2.get("/").status_code == 200


def test_bad_mfa_input_gets_a_field_error(theo: User) -> None:
    http = HttpClient()
    _login(http, "theo@example.org")
    response = http.post(MFA, {"code": "12ab"})
    assert response.status_code == 400
    assert b"field-error" in response.content
    assert not TOTPDevice.objects.filter(user=theo, confirmed=True).exists()


def test_session_is_rotated_at_login(theo: User) -> None:
    http = HttpClient()
    http.get(LOGIN)
    http.cookies[settings.SESSION_COOKIE_NAME] = "attacker-chosen-session-key"
    _login(http, "theo@example.org")
    assert http.cookies[settings.SESSION_COOKIE_NAME].value != "attacker-chosen-session-key"


def test_idle_timeout_ends_the_session(theo: User, login_as: Callable[[User], HttpClient]) -> None:
    http = login_as(theo)
    assert http.get("/").status_code == 200
    later = timezone.now() + timedelta(minutes=settings.IPTCARE_IDLE_MINUTES, seconds=5)
    with time_machine.travel(later):
        response = http.get("/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    event = AuditEvent.objects.get(action=Action.SESSION_EXPIRED)
    assert (event.actor_id, event.reason) == (theo.public_id, "idle timeout")


def test_requests_do_not_write_the_session_each_time(
    theo: User, login_as: Callable[[User], HttpClient]
) -> None:
    """Activity is recorded at most once a minute: no session write on every page view."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http = login_as(theo)
    http.get("/")
    with CaptureQueriesContext(connection) as ctx:
        http.get("/")
    writes = [
        q["sql"]
        for q in ctx.captured_queries
        if "django_session" in q["sql"]
        and q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))
    ]
    assert writes == []
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=2)),
        CaptureQueriesContext(connection) as ctx,
    ):
        assert http.get("/").status_code == 200
    assert any(
        "django_session" in q["sql"] and q["sql"].lstrip().upper().startswith("UPDATE")
        for q in ctx.captured_queries
    )


def test_activity_keeps_the_session_until_the_absolute_limit(
    theo: User, login_as: Callable[[User], HttpClient]
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        http = login_as(theo)
        assert http.get("/").status_code == 200
        # Active every 10 minutes: the idle timeout never fires...
        elapsed = timedelta()
        while elapsed < timedelta(hours=settings.IPTCARE_SESSION_HOURS) - timedelta(minutes=10):
            elapsed += timedelta(minutes=10)
            traveller.move_to(start + elapsed)
            assert http.get("/").status_code == 200, elapsed
        # ...but 12 hours after login the session ends regardless.
        traveller.move_to(start + timedelta(hours=settings.IPTCARE_SESSION_HOURS, minutes=1))
        response = http.get("/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert AuditEvent.objects.filter(
        action=Action.SESSION_EXPIRED, actor_id=theo.public_id
    ).exists()


def test_logout_ends_the_server_session(theo: User, login_as: Callable[[User], HttpClient]) -> None:
    http = login_as(theo)
    key = http.cookies[settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=key).exists()
    assert http.get("/account/logout/").status_code == 405  # logout is POST only (CSRF-safe)
    response = http.post("/account/logout/")
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    # Replaying the old cookie gets nothing.
    replay = HttpClient()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get("/").status_code == 302
    assert AuditEvent.objects.filter(action=Action.LOGOUT, actor_id=theo.public_id).exists()


def test_password_reset_by_email_sets_a_new_password(theo: User) -> None:
    http = HttpClient()
    response = http.post("/account/password/reset/", {"email": "theo@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = str(mail.outbox[0].body)
    link = re.search(r"https?://[^/]+(/account/password/reset/\S+/)", body)
    assert link
    confirm = http.get(link.group(1), follow=True)
    assert confirm.status_code == 200
    form_url = confirm.redirect_chain[-1][0]
    weak = http.post(form_url, {"new_password1": "short", "new_password2": "short"})
    assert b"at least 12 characters" in weak.content
    new = "a-brand-new-passphrase-for-theo"
    done = http.post(form_url, {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    theo.refresh_from_db()
    assert theo.check_password(new)


def test_password_reset_for_unknown_email_reveals_nothing(db: None) -> None:
    response = HttpClient().post("/account/password/reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_csrf_is_enforced_on_login(theo: User) -> None:
    http = HttpClient(enforce_csrf_checks=True)
    response = http.post(LOGIN, {"username": "theo@example.org", "password": PASSWORD})
    assert response.status_code == 403


def test_csrf_is_enforced_on_state_changing_pages(
    alice: User, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(alice)
    http.handler.enforce_csrf_checks = True
    response = http.post(
        "/staff/new/", {"email": "new@example.org", "full_name": "N", "roles": ["therapist"]}
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="new@example.org").exists()


@pytest.mark.parametrize(
    "cache_control",
    [None, "public, max-age=600", "max-age=0, no-cache, no-store, must-revalidate"],
    ids=["none", "public", "no-store but not private"],
)
def test_every_page_leaves_with_the_no_store_headers_never_cache_writes(
    cache_control: str | None,
) -> None:
    """Whatever a view set, the response leaves with exactly what ``never_cache`` writes plus
    ``private``/``no-store``; a response already carrying it is left as it is."""
    expected = never_cache(lambda request: HttpResponse())(RequestFactory().get("/"))

    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse()
        if cache_control is not None:
            response["Cache-Control"] = cache_control
        return response

    middleware = NoStoreMiddleware(view)
    response = middleware(RequestFactory().get("/clients/"))
    assert response["Cache-Control"] == expected["Cache-Control"] == middleware.value
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert response.has_header("Expires")
    again = NoStoreMiddleware(lambda request: expected)(RequestFactory().get("/clients/"))
    assert again["Cache-Control"] == middleware.value and again["Expires"] == expected["Expires"]


def test_security_headers_and_no_store(theo: User, login_as: Callable[[User], HttpClient]) -> None:
    response = login_as(theo).get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "no-store" in response["Cache-Control"]
    assert response["X-Request-ID"]


def test_pages_have_no_inline_script(theo: User, login_as: Callable[[User], HttpClient]) -> None:
    http = login_as(theo)
    for path in ["/", LOGIN]:
        html = http.get(path).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert " style=" not in html and " onclick=" not in html, path
