"""An email about something just created is sent after the commit, inside the request, and the
page shows its outcome: a failing mail server never loses a questionnaire link, a staff account
or a portal invitation, and never answers 500 (iptcare/core/mail.py).

The page tests run with ``transaction=True``: in a test wrapped in a transaction the commit hook
would only run after the page had been rendered, which is not what happens in a request."""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.mail import DeliveryStatus, send_after_commit
from iptcare.core.models import Program
from iptcare.measures import engine
from iptcare.measures.models import MeasureLink
from iptcare.portal.models import PortalAccount
from tests.measures.test_api_records import Api

HERE = "tests.test_email_after_commit"
WORKING = "django.core.mail.backends.locmem.EmailBackend"


class RefusingBackend(BaseEmailBackend):
    """A mail server that answers but refuses the message."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise smtplib.SMTPRecipientsRefused(
            {m.to[0]: (550, b"mailbox unavailable") for m in email_messages}
        )


class UnreachableBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError(111, "Connection refused")


class SilentBackend(BaseEmailBackend):
    """A backend that raises nothing but delivers nothing."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        return 0


FAILING = [f"{HERE}.RefusingBackend", f"{HERE}.UnreachableBackend"]


def _text(response: Any) -> str:
    return str(response.content.decode())


# --- the helper ---------------------------------------------------------------------------------


def test_the_email_waits_for_the_commit_and_then_says_it_was_sent(
    db: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        delivery = send_after_commit(to="wren@example.org", subject="Hello", body="A body.")
        assert delivery.pending and not mail.outbox
    assert delivery.sent and delivery.status == DeliveryStatus.SENT
    (message,) = mail.outbox
    assert message.to == ["wren@example.org"] and message.body == "A body."
    assert delivery.message == "The email was sent to wren@example.org."


def test_nothing_is_sent_for_work_that_is_rolled_back(
    db: None, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        delivery = send_after_commit(to="wren@example.org", subject="Hello", body="A body.")
        raise RuntimeError("the work failed")
    assert callbacks == [] and not mail.outbox and delivery.pending


@pytest.mark.parametrize("backend", [*FAILING, f"{HERE}.SilentBackend"])
def test_a_failure_is_noted_and_logged_without_the_address_or_the_body(
    db: None,
    django_capture_on_commit_callbacks: Callable[..., Any],
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    backend: str,
) -> None:
    settings.EMAIL_BACKEND = backend
    with (
        caplog.at_level(logging.ERROR, logger="iptcare.core.mail"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        delivery = send_after_commit(
            to="wren@Example.ORG", subject="Hello", body="https://x.test/m/secret-part/"
        )
    assert delivery.failed
    assert delivery.message == "The email to wren@Example.ORG could not be sent."
    (record,) = caplog.records
    logged = record.getMessage()
    assert "example.org" in logged
    assert "wren" not in logged and "secret-part" not in logged and "mailbox" not in logged
    assert record.exc_info is None  # a traceback would quote the error's text
    expected = {
        f"{HERE}.RefusingBackend": "SMTPRecipientsRefused",
        f"{HERE}.UnreachableBackend": "ConnectionRefusedError",
        f"{HERE}.SilentBackend": "nothing sent",
    }
    assert expected[backend] in logged


# --- a questionnaire link -----------------------------------------------------------------------


def _issue_page(http: HttpClient, client: Client, email: str = "wren@example.org") -> Any:
    return http.post(
        f"/clients/{client.public_id}/measures/link/",
        {"instrument": "phq-9", "hours": 24, "email": email},
    )


def _link_url(html: str) -> str:
    found = re.search(r'href="(http://testserver/m/[^"/]+/)" data-testid="measure-link"', html)
    assert found is not None, "the link is not on the page"
    return found.group(1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", FAILING)
def test_link_page_with_a_failing_mail_server_shows_the_link_and_says_so(
    theo: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
    settings: Any,
    backend: str,
) -> None:
    settings.EMAIL_BACKEND = backend
    response = _issue_page(login_as(theo), client_record)
    assert response.status_code == 200
    html = _text(response)
    url = _link_url(html)
    assert 'data-status="failed"' in html
    assert "could not be sent" in html and "copy it and send it to the client another way" in html
    assert "was sent" not in html
    link = MeasureLink.objects.get()
    assert link.sent_to == "wren@example.org" and link.used_at is None
    assert HttpClient().get(url.removeprefix("http://testserver")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_link_page_with_a_working_mail_server_says_it_was_sent(
    theo: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
    settings: Any,
) -> None:
    settings.EMAIL_BACKEND = WORKING
    response = _issue_page(login_as(theo), client_record)
    assert response.status_code == 200
    html = _text(response)
    url = _link_url(html)
    assert 'data-status="sent"' in html and "The email was sent to wren@example.org." in html
    (message,) = mail.outbox
    text = f"{message.subject} {message.body}"
    assert url in message.body
    instrument = engine.get("phq-9")
    for clinical in (instrument.title, "PHQ", client_record.display_name, "Testbrook"):
        assert clinical.lower() not in text.lower()


@pytest.mark.django_db(transaction=True)
def test_link_page_without_an_email_says_nothing_about_one(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    response = _issue_page(login_as(theo), client_record, email="")
    assert response.status_code == 200
    html = _text(response)
    _link_url(html)
    assert 'data-testid="email-status"' not in html and not mail.outbox


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("backend", "status"), [(FAILING[1], "failed"), (WORKING, "sent")])
def test_link_api_says_what_became_of_the_email(
    theo: User, client_record: Client, settings: Any, backend: str, status: str
) -> None:
    settings.EMAIL_BACKEND = backend
    response = Api(theo).post(
        f"/api/v1/clients/{client_record.public_id}/measure-links",
        {"instrument": "gad-7", "hours": 24, "email": "wren@example.org"},
    )
    assert response.status_code == 201
    out = response.json()
    assert out["email_status"] == status
    path = out["url"].removeprefix("http://testserver")
    assert HttpClient().get(path).status_code == 200
    no_email = Api(theo).post(
        f"/api/v1/clients/{client_record.public_id}/measure-links",
        {"instrument": "gad-7", "hours": 24},
    )
    assert no_email.json()["email_status"] == "not_requested"


# --- a staff member's password set-up email -----------------------------------------------------


def _create_staff(http: HttpClient, northside: Program) -> Any:
    return http.post(
        "/staff/new/",
        {
            "email": "new.person@example.org",
            "full_name": "New Person",
            "roles": ["therapist"],
            "programs": [northside.pk],
        },
        follow=True,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", FAILING)
def test_staff_created_with_a_failing_mail_server_and_the_email_sent_again(
    alice: User,
    northside: Program,
    login_as: Callable[[User], HttpClient],
    settings: Any,
    backend: str,
) -> None:
    settings.EMAIL_BACKEND = backend
    http = login_as(alice)
    response = _create_staff(http, northside)
    assert response.status_code == 200
    user = User.objects.get(email="new.person@example.org")
    assert not user.has_usable_password()
    # The new user's page: says the email failed, and has the button that sends it again.
    assert response.redirect_chain[-1][0] == f"/staff/{user.public_id}/"
    html = _text(response)
    assert "New Person was added, but the email with the link to set a password could not" in html
    assert "Send the set-up email again" in html

    again_url = f"/staff/{user.public_id}/send-setup/"
    still_failing = http.post(again_url, follow=True)
    assert still_failing.status_code == 200 and "could not be sent" in _text(still_failing)

    settings.EMAIL_BACKEND = WORKING
    sent = http.post(again_url, follow=True)
    assert "The email was sent to new.person@example.org." in _text(sent)
    (message,) = mail.outbox
    found = re.search(r"http://testserver(/account/password/reset/\S+/)", str(message.body))
    assert found is not None and "therapist" not in message.body
    assert HttpClient().get(found.group(1), follow=True).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_staff_created_with_a_working_mail_server_says_it_was_sent(
    alice: User,
    northside: Program,
    login_as: Callable[[User], HttpClient],
    settings: Any,
) -> None:
    settings.EMAIL_BACKEND = WORKING
    response = _create_staff(login_as(alice), northside)
    assert response.redirect_chain[-1][0] == "/staff/"
    assert "New Person was added and emailed a link to set a password." in _text(response)
    (message,) = mail.outbox
    assert message.to == ["new.person@example.org"]


@pytest.mark.django_db(transaction=True)
def test_staff_api_says_what_became_of_the_set_up_email(alice: User, settings: Any) -> None:
    settings.EMAIL_BACKEND = FAILING[0]
    response = Api(alice).post(
        "/api/v1/staff", {"email": "api.person@example.org", "full_name": "A", "roles": ["nurse"]}
    )
    assert response.status_code == 201
    assert response.json()["setup_email_status"] == "failed"
    assert User.objects.filter(email="api.person@example.org").exists()


def test_the_set_up_email_is_sent_again_only_before_a_password_is_chosen(
    alice: User, theo: User, remy: User, login_as: Callable[[User], HttpClient]
) -> None:
    url = f"/staff/{theo.public_id}/send-setup/"
    assert login_as(remy).post(url).status_code == 403
    refused = login_as(alice).post(url, follow=True)
    assert "has already chosen a password" in _text(refused) and not mail.outbox
    page = _text(login_as(alice).get(f"/staff/{theo.public_id}/"))
    assert "Send the set-up email again" not in page


# --- a client's portal invitation ---------------------------------------------------------------


def _invite(http: HttpClient, client: Client) -> Any:
    return http.post(
        f"/clients/{client.public_id}/portal/invite/", {"email": "wren@example.net"}, follow=True
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", FAILING)
def test_portal_invitation_with_a_failing_mail_server_and_sent_again(
    theo: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
    settings: Any,
    backend: str,
) -> None:
    settings.EMAIL_BACKEND = backend
    http = login_as(theo)
    response = _invite(http, client_record)
    assert response.status_code == 200
    account = PortalAccount.objects.select_related("user").get(client=client_record)
    assert account.user.email == "wren@example.net"
    html = _text(response)
    assert "The portal account was created. The invitation email to wren@example.net could" in html
    assert "Send the invitation again" in html and "Invite to the portal" not in html

    settings.EMAIL_BACKEND = WORKING
    sent = http.post(f"/clients/{client_record.public_id}/portal/invite/again/", follow=True)
    assert sent.status_code == 200
    assert "Invitation sent to wren@example.net." in _text(sent)
    (message,) = mail.outbox
    assert "/portal/welcome/" in message.body


@pytest.mark.django_db(transaction=True)
def test_portal_invitation_with_a_working_mail_server_says_it_was_sent(
    theo: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
    settings: Any,
) -> None:
    settings.EMAIL_BACKEND = WORKING
    response = _invite(login_as(theo), client_record)
    assert response.status_code == 200
    assert "The portal account was created. Invitation sent to wren@example.net." in _text(response)
    (message,) = mail.outbox
    assert message.to == ["wren@example.net"] and "/portal/welcome/" in message.body


def test_the_invitation_is_sent_again_only_to_an_account_not_yet_set_up(
    theo: User, remy: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    url = f"/clients/{client_record.public_id}/portal/invite/again/"
    assert login_as(remy).post(url).status_code in {403, 404}
    none_yet = login_as(theo).post(url, follow=True)
    assert "has no portal account yet" in _text(none_yet)
    _invite(login_as(theo), client_record)
    user = User.objects.get(email="wren@example.net")
    user.set_password("a-long-client-passphrase-42")
    user.save()
    mail.outbox.clear()
    done = login_as(theo).post(url, follow=True)
    assert "has already set up their portal account" in _text(done) and not mail.outbox
    assert "has set up their portal account" in _text(done)


# --- a mail server that never answers ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_never_answers_costs_the_timeout_not_the_link(
    theo: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
    settings: Any,
) -> None:
    """SMTP to a server that accepts the connection and says nothing: after ``EMAIL_TIMEOUT``
    the email is noted as failed, and the page shows the link (no 500, no lost secret, the
    write's one event)."""
    import socket

    from iptcare.audit.models import AuditEvent

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts in the kernel, never greets
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
    settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT = False, 1
    http = login_as(theo)
    try:
        before = AuditEvent.objects.count()
        response = _issue_page(http, client_record)
    finally:
        silent.close()
    assert response.status_code == 200
    html = _text(response)
    _link_url(html)
    assert 'data-status="failed"' in html
    assert MeasureLink.objects.count() == 1
    events = list(AuditEvent.objects.order_by("id")[before:])
    assert [(e.action, e.outcome) for e in events] == [("create", "success")]


@pytest.mark.django_db(transaction=True)
def test_a_side_effect_that_fails_after_the_commit_leaves_the_writes_one_event(
    theo: User, client_record: Client
) -> None:
    """A commit hook that raises after the write committed: the error goes on up, and the
    trail keeps the write's success event, with no failure event for work that was done."""
    from iptcare.access.policy import writing
    from iptcare.access.vocabulary import Action, DataCategory, Purpose
    from iptcare.audit.models import AuditEvent

    def boom() -> None:
        raise RuntimeError("the side effect failed")

    before = AuditEvent.objects.count()
    with (
        pytest.raises(RuntimeError, match="side effect"),
        writing(theo, Action.UPDATE, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT),
    ):
        Client.objects.filter(pk=client_record.pk).update(preferred_name="Robin")
        transaction.on_commit(boom)
    client_record.refresh_from_db()
    assert client_record.preferred_name == "Robin"
    events = list(AuditEvent.objects.order_by("id")[before:])
    assert [e.outcome for e in events] == ["success"]
