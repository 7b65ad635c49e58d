"""The client portal: invitation, the client's own page in plain language, questionnaires the
care team asked for, and the walls around it (own record only, no staff pages, MFA offered)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.http import HttpRequest
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.utils import timezone

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import InvalidInput
from iptcare.core.models import Program
from iptcare.measures import services as measures
from iptcare.measures.models import Administration, Alert, AlertKind
from iptcare.portal import services
from iptcare.portal.models import PortalAccount
from iptcare.scheduling.models import Appointment
from tests.test_caseload_chart import _episode


def _request() -> HttpRequest:
    return RequestFactory().get("/", HTTP_HOST="testserver")


@pytest.fixture
def episode(client_record: Client, theo: User) -> Episode:
    return _episode(client_record, theo)


@pytest.fixture
def wren(theo: User, client_record: Client, episode: Episode) -> User:
    """Client T-0001's portal account (invited by theo)."""
    return services.portal_invite(
        actor=theo, client=client_record, email="wren@example.net", request=_request()
    ).user


@pytest.fixture
def other_client(client_record: Client, northside: Program) -> Client:
    return Client.objects.create(
        organisation=client_record.organisation,
        program=northside,
        record_number="T-0002",
        legal_given_name="Olive",
        legal_family_name="Otherly",
        date_of_birth=date(1985, 3, 3),
    )


def _portal(user: User) -> HttpClient:
    http = HttpClient()
    http.force_login(user, backend="iptcare.accounts.backends.EmailBackend")
    return http


def test_invitation_creates_a_client_account_and_emails_nothing_clinical(
    theo: User,
    client_record: Client,
    episode: Episode,
    northside: Program,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        wren = services.portal_invite(
            actor=theo, client=client_record, email="wren@example.net", request=_request()
        ).user
    assert wren.role_set == frozenset({Role.CLIENT})
    assert not wren.has_usable_password()
    assert PortalAccount.objects.get(user=wren).client == client_record
    (message,) = mail.outbox
    text = f"{message.subject} {message.body}".lower()
    for clinical in (northside.name, client_record.organisation.name, "treatment", "substance"):
        assert clinical.lower() not in text
    assert "/portal/welcome/" in message.body and "expires in 7 days" in message.body
    event = AuditEvent.objects.filter(action="privilege_change").latest("id")
    assert event.client_id == client_record.public_id
    assert event.detail["after"]["roles"] == ["portal_client"]


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "Enter a valid email address."),
        ("theo@example.org", "This email already has an account."),
    ],
)
def test_invitation_refuses_bad_input_and_changes_nothing(
    theo: User, client_record: Client, email: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.portal_invite(actor=theo, client=client_record, email=email, request=_request())
    assert exc.value.field_errors == {"email": [message]}
    assert not PortalAccount.objects.exists()
    assert User.objects.filter(role_grants__role=Role.CLIENT).count() == 0


def test_a_client_is_invited_once(theo: User, client_record: Client, wren: User) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.portal_invite(
            actor=theo, client=client_record, email="second@example.net", request=_request()
        )
    assert exc.value.field_errors == {"email": ["This client already has a portal account."]}


def test_portal_clients_are_not_staff(
    wren: User,
    theo: User,
    alice: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    assert wren not in User.objects.staff()
    assert theo in User.objects.staff()
    admin = login_as(alice)
    # Staff administration never reaches a client's account (no staff roles can be granted).
    assert str(wren.public_id) not in admin.get("/staff/").content.decode()
    assert admin.get(f"/staff/{wren.public_id}/").status_code == 404
    assert admin.post(f"/staff/{wren.public_id}/", {"roles": ["therapist"]}).status_code == 404
    assert wren.role_set == frozenset({Role.CLIENT})
    # Nor can a client be made anyone's clinician.
    referral = login_as(theo).post(
        f"/api/v1/clients/{client_record.public_id}/episodes",
        data={
            "program": str(client_record.program.public_id),
            "referral_date": date.today().isoformat(),
            "referral_source": "individual",
            "primary_clinician": str(wren.public_id),
        },
        content_type="application/json",
    )
    assert referral.status_code == 422
    assert "primary_clinician" in referral.content.decode()


def test_policy_lets_a_client_see_their_own_record_only(
    wren: User, client_record: Client, other_client: Client
) -> None:
    own = decide(wren, Action.VIEW, client_record, DataCategory.CLINICAL_RECORD, Purpose.SELF)
    assert own.allowed
    assert not decide(
        wren, Action.VIEW, other_client, DataCategory.CLINICAL_RECORD, Purpose.SELF
    ).allowed
    # Staff purposes are not theirs: the chart, notes and lists stay closed, even their own.
    assert not decide(
        wren, Action.VIEW, client_record, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
    ).allowed
    assert not decide(
        wren, Action.VIEW, client_record, DataCategory.COUNSELLING_NOTES, Purpose.SELF
    ).allowed


def test_client_signs_in_without_mfa_and_lands_on_their_page(
    wren: User, client_record: Client, theo: User, episode: Episode
) -> None:
    Appointment.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        client=client_record,
        clinician=theo,
        kind="individual",
        starts_at=timezone.now() + timedelta(days=3),
        duration_minutes=50,
    )
    http = _portal(wren)
    home = http.get("/")
    assert home.status_code == 302 and home["Location"] == "/portal/"
    page = http.get("/portal/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Theo" in html and "50 min" in html
    assert "Caseload" not in html and "Clients</a>" not in html


def test_staff_still_need_mfa(theo: User) -> None:
    http = HttpClient()
    http.force_login(theo, backend="iptcare.accounts.backends.EmailBackend")
    assert http.get("/caseload/")["Location"].startswith("/account/mfa/")


def test_client_is_refused_staff_pages_even_for_their_own_record(
    wren: User, client_record: Client
) -> None:
    http = _portal(wren)
    for url in (
        f"/clients/{client_record.public_id}/",
        f"/clients/{client_record.public_id}/measures/",
        f"/api/v1/clients/{client_record.public_id}",
    ):
        assert http.get(url).status_code in {401, 403, 404}, url
    assert http.get("/caseload/").context["rows"] == []


def test_progress_in_plain_language_and_a_requested_questionnaire(
    wren: User, theo: User, client_record: Client, episode: Episode
) -> None:
    def phq9(values: list[int]) -> dict[str, str]:
        return {str(n + 1): str(v) for n, v in enumerate(values)}

    measures.administer(
        actor=theo, client=client_record, instrument_code="phq-9",
        answers=phq9([3, 3, 3, 2, 2, 2, 1, 1, 0]),
    )  # fmt: skip
    measures.administer(
        actor=theo, client=client_record, instrument_code="phq-9",
        answers=phq9([1, 1, 1, 1, 1, 0, 0, 0, 0]),
    )  # fmt: skip
    issued = measures.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    )
    http = _portal(wren)
    html = http.get("/portal/").content.decode()
    assert "Patient Health Questionnaire-9 (PHQ-9)</strong>" in html
    assert "some signs of depression" in html  # the band's client label for 5
    assert "better than when you started" in html  # 17 -> 5: reliable improvement
    url = f"/portal/questionnaires/{issued.link.public_id}/"
    assert url in html

    done = http.post(url, {f"item_{n}": "0" for n in range(1, 9)} | {"item_9": "2"})
    assert done.status_code == 200 and 'data-testid="crisis"' in done.content.decode()
    assert 'href="/portal/"' in done.content.decode()  # the signed-in layout, with its nav
    latest = Administration.objects.latest("completed_at")
    assert latest.mode == "portal" and latest.administered_by is None
    assert Alert.objects.filter(kind=AlertKind.SAFETY, clinician=theo).exists()
    assert http.get(url).status_code == 404  # spent
    event = AuditEvent.objects.filter(purpose="self", action="create").get()
    assert event.client_id == client_record.public_id


def test_client_cannot_reach_another_clients_questionnaire(
    wren: User, theo: User, other_client: Client
) -> None:
    issued = measures.link_issue(
        actor=theo, client=other_client, instrument_code="gad-7", base_url="http://t/"
    )
    http = _portal(wren)
    assert str(issued.link.public_id) not in http.get("/portal/").content.decode()
    assert http.get(f"/portal/questionnaires/{issued.link.public_id}/").status_code == 404


def test_staff_without_a_portal_account_get_no_portal(
    theo: User, login_as: Callable[[User], HttpClient]
) -> None:
    assert login_as(theo).get("/portal/").status_code == 404


def test_client_is_offered_mfa_enrolment(wren: User) -> None:
    http = _portal(wren)
    page = http.get("/portal/")
    assert 'href="/account/mfa/"' in page.content.decode()
    enrol = http.get("/account/mfa/")
    assert enrol.status_code == 200 and "<svg" in enrol.content.decode()  # the QR code


def test_scheduled_measures_due_appear_and_can_be_completed_once(
    wren: User, client_record: Client, episode: Episode
) -> None:
    # Admitted 35 days ago with nothing measured: the program default makes the admission
    # measures (PHQ-9, GAD-7, AUDIT, DAST-10) overdue.
    http = _portal(wren)
    html = http.get("/portal/").content.decode()
    assert 'href="/portal/due/phq-9/"' in html and 'href="/portal/due/gad-7/"' in html
    assert http.get("/portal/due/mspss/").status_code == 404  # not on the schedule
    done = http.post(
        "/portal/due/phq-9/", {f"item_{n}": "1" for n in range(1, 10)} | {"item_9": "0"}
    )
    assert done.status_code == 200
    latest = Administration.objects.get()
    assert (latest.instrument, latest.mode, latest.total) == ("phq-9", "portal", 8)
    assert http.get("/portal/due/phq-9/").status_code == 404  # no longer due
    assert 'href="/portal/due/phq-9/"' not in http.get("/portal/").content.decode()


def test_invitation_link_works_for_days_once_and_is_not_a_reset_link(
    theo: User,
    client_record: Client,
    episode: Episode,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    import re

    import time_machine

    from iptcare.portal.tokens import invitation_tokens

    with django_capture_on_commit_callbacks(execute=True):
        user = services.portal_invite(
            actor=theo, client=client_record, email="wren@example.net", request=_request()
        ).user
    path = re.search(r"http://testserver(/portal/welcome/\S+/)", str(mail.outbox[0].body))
    assert path is not None
    url = path.group(1)
    token = url.rstrip("/").rsplit("/", 1)[1]
    # A staff password-reset check refuses it (own salt), and it expires after 7 days, not 1 hour.
    from django.contrib.auth.tokens import default_token_generator

    assert not default_token_generator.check_token(user, token)
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert not invitation_tokens.check_token(user, token)
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert invitation_tokens.check_token(user, token)
        http = HttpClient()
        form_page = http.get(url, follow=True)
        assert form_page.status_code == 200 and "password" in form_page.content.decode().lower()
        done = http.post(
            form_page.redirect_chain[-1][0],
            {
                "new_password1": "a-long-client-passphrase-42",
                "new_password2": "a-long-client-passphrase-42",
            },
        )
        assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-long-client-passphrase-42")
    assert not invitation_tokens.check_token(user, token)  # spent once the password is set


# --- a single-use link is its own credential (views.link_page) ----------------------------------

LINK_ANSWERS = {f"item_{n}": "1" for n in range(1, 9)} | {"item_9": "0"}


def test_the_link_page_sets_no_cookie_and_takes_a_post_without_a_token(
    theo: User, client_record: Client, episode: Episode
) -> None:
    secret = measures.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    ).secret
    browser = HttpClient(enforce_csrf_checks=True)  # as a real browser is held to it
    page = browser.get(f"/m/{secret}/")
    assert page.status_code == 200
    assert not page.cookies and "csrfmiddlewaretoken" not in page.content.decode()
    done = browser.post(f"/m/{secret}/", LINK_ANSWERS)
    assert done.status_code == 200 and not done.cookies
    assert Administration.objects.get().mode == "link"
    assert browser.post(f"/m/{secret}/", LINK_ANSWERS).status_code == 404  # still single-use


def test_the_portal_questionnaire_still_needs_its_csrf_token(
    wren: User, theo: User, client_record: Client
) -> None:
    issued = measures.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    )
    http = _portal(wren)
    http.handler.enforce_csrf_checks = True
    url = f"/portal/questionnaires/{issued.link.public_id}/"
    page = http.get(url)
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    assert http.post(url, LINK_ANSWERS).status_code == 403  # no token
    assert not Administration.objects.exists()
