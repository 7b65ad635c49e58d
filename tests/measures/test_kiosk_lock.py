"""The kiosk lock covers the whole session: after a client submits on the shared tablet, no
address typed by hand — a page, a chart, the API — reaches staff data until the clinician's
password unlocks it; logout still works and ends the lock with the session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.measures.kiosk import HANDBACK
from tests.conftest import PASSWORD
from tests.measures.test_kiosk import FORM_ITEM9, _url
from tests.test_caseload_chart import _episode

HANDBACK_TEXT = "please hand the tablet back"


@pytest.fixture
def locked(theo: User, client_record: Client, login_as: Callable[[User], HttpClient]) -> HttpClient:
    """Theo's session right after the client submitted a PHQ-9 on the kiosk."""
    _episode(client_record, theo)
    http = login_as(theo)
    submitted = http.post(_url(client_record), FORM_ITEM9)
    assert submitted.status_code == 302
    assert HANDBACK in http.session
    return http


def _staff_pages(client: Client) -> list[str]:
    return ["/caseload/", f"/clients/{client.public_id}/", "/clients/", "/alerts/", "/"]


def _assert_locked_page(http: HttpClient, path: str, client: Client) -> None:
    response = http.get(path)
    assert response.status_code == 302, path
    assert response["Location"] == _url(client), path
    landed = http.get(path, follow=True)
    html = landed.content.decode()
    assert landed.status_code == 200 and HANDBACK_TEXT in html, path
    for hidden in ("Testbrook", "T-0001", "Caseload", "PHQ"):
        assert hidden not in html, (path, hidden)


def test_pages_typed_by_hand_show_the_hand_back_page(
    locked: HttpClient, client_record: Client
) -> None:
    for path in _staff_pages(client_record):
        _assert_locked_page(locked, path, client_record)
    # A form posted from a staff page left open elsewhere is turned away too, unprocessed.
    posted = locked.post(f"/clients/{client_record.public_id}/edit/", {"legal_given_name": "X"})
    assert posted.status_code == 302 and posted["Location"] == _url(client_record)
    client_record.refresh_from_db()
    assert client_record.legal_given_name == "Wren"
    # Signing in again over the lock is not a way out either.
    assert locked.get("/account/login/")["Location"] == _url(client_record)


def test_the_api_answers_423_in_the_problem_shape(
    locked: HttpClient, client_record: Client
) -> None:
    before = AuditEvent.objects.filter(client_id=client_record.public_id).count()
    for path in (
        f"/api/v1/clients/{client_record.public_id}",
        "/api/v1/alerts",
        "/api/v1/me",
    ):
        response = locked.get(path)
        assert response.status_code == 423, path
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body == {
            "type": "about:blank",
            "title": "Locked",
            "status": 423,
            "detail": body["detail"],
            "instance": path,
        }
        assert "password" in body["detail"]
        assert "Testbrook" not in response.content.decode()
    # Nothing of the client's record was read.
    assert AuditEvent.objects.filter(client_id=client_record.public_id).count() == before


def test_health_check_and_static_files_are_not_locked(locked: HttpClient) -> None:
    assert locked.get("/healthz").status_code == 200
    # Not redirected to the kiosk: a missing static file is the static handler's 404.
    assert locked.get("/static/no-such-file.css").status_code == 404


def test_a_wrong_password_keeps_the_lock_the_right_one_releases_it(
    locked: HttpClient, client_record: Client
) -> None:
    url = _url(client_record)
    wrong = locked.post(url, {"step": "continue", "password": "guess"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    _assert_locked_page(locked, "/caseload/", client_record)
    assert locked.get("/api/v1/me").status_code == 423

    right = locked.post(url, {"step": "continue", "password": PASSWORD})
    assert right.status_code == 302
    assert right["Location"] == f"/clients/{client_record.public_id}/measures/"
    assert HANDBACK not in locked.session
    caseload = locked.get("/caseload/")
    assert caseload.status_code == 200 and HANDBACK_TEXT not in caseload.content.decode()
    chart = locked.get(f"/clients/{client_record.public_id}/")
    assert chart.status_code == 200 and "Testbrook" in chart.content.decode()
    assert locked.get("/api/v1/me").status_code == 200


def test_logout_works_while_locked_and_ends_the_lock(
    locked: HttpClient, theo: User, client_record: Client
) -> None:
    response = locked.post("/account/logout/")
    assert response.status_code == 302 and "/account/login/" in response["Location"]
    assert HANDBACK not in locked.session
    # Signed out: a page asks for a login, not for the hand-back.
    caseload = locked.get("/caseload/")
    assert caseload.status_code == 302 and "/account/login/" in caseload["Location"]


def test_a_hand_back_state_without_its_page_ends_the_session(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)
    session = http.session
    session[HANDBACK] = {"client": str(client_record.public_id), "administration": "x"}
    session.save()
    response = http.get("/caseload/")
    assert response.status_code == 302 and "/account/login/" in response["Location"]
    assert HANDBACK not in http.session
    again = http.get("/caseload/")
    assert again.status_code == 302 and "/account/login/" in again["Location"]


def test_another_users_session_is_not_locked(
    locked: HttpClient, tess: User, login_as: Callable[[User], HttpClient]
) -> None:
    other = login_as(tess)
    assert other.get("/caseload/").status_code == 200


def test_another_clients_kiosk_url_is_locked_too_and_reads_nothing(
    locked: HttpClient, client_record: Client, org: object, northside: object
) -> None:
    """Only the locked page passes: another client's kiosk URL (or another instrument's) would
    read that client's record from the tablet, audited in the clinician's name."""
    other = Client.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        record_number="T-0099",
        legal_given_name="Otherby",
        legal_family_name="Fictionson",
        date_of_birth=client_record.date_of_birth,
    )
    before = AuditEvent.objects.filter(client_id=other.public_id).count()
    for path in (
        f"/clients/{other.public_id}/measures/phq-9/kiosk/",
        f"/clients/{client_record.public_id}/measures/gad-7/kiosk/",
    ):
        response = locked.get(path)
        assert response.status_code == 302 and response["Location"] == _url(client_record), path
    assert AuditEvent.objects.filter(client_id=other.public_id).count() == before
