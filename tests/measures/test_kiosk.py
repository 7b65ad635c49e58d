"""Kiosk mode: the questionnaire alone on a shared tablet, a neutral hand-back page, and only
the clinician's password leads back to the record."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.measures.models import Administration, Alert, Mode
from tests.conftest import PASSWORD
from tests.test_caseload_chart import _episode

FORM_ITEM9 = {f"item_{n}": "0" for n in range(1, 9)} | {"item_9": "2"}  # total 2, safety flag


def _url(client: Client, code: str = "phq-9") -> str:
    return f"/clients/{client.public_id}/measures/{code}/kiosk/"


def test_kiosk_shows_only_the_questionnaire_and_a_first_name(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    page = login_as(theo).get(_url(client_record))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hello Wren" in html and "Little interest or pleasure" in html
    for hidden in ("Testbrook", "T-0001", "1990", "Theo", 'aria-label="Main"', "Log out"):
        assert hidden not in html, hidden
    # No way out of the questionnaire: the only form posts back here, there are no links.
    assert "<a " not in html
    assert "no-store" in page["Cache-Control"]


def test_submit_stores_a_kiosk_administration_then_holds_the_tablet(
    theo: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    episode: Episode = _episode(client_record, theo)
    http = login_as(theo)
    url = _url(client_record)
    response = http.post(url, FORM_ITEM9)
    assert response.status_code == 302 and response["Location"] == url
    a = Administration.objects.get()
    assert a.mode == Mode.KIOSK and a.administered_by == theo and a.total == 2
    assert a.episode == episode
    (alert,) = Alert.objects.all()
    assert alert.kind == "safety"
    assert AuditEvent.objects.filter(
        client_id=client_record.public_id, action="create", outcome="success"
    ).exists()

    done = http.get(url)
    assert done.status_code == 200
    html = done.content.decode()
    assert "please hand the tablet back" in html
    for hidden in ("Wren", "Testbrook", "PHQ", "Little interest", "data-score", "<a "):
        assert hidden not in html, hidden
    # The questionnaire cannot be filled in again, here or for another instrument.
    again = http.post(url, FORM_ITEM9)
    assert again.status_code == 200 and "please hand the tablet back" in again.content.decode()
    other = http.get(_url(client_record, "gad-7"), follow=True)  # sent back to the locked page
    assert other.redirect_chain == [(url, 302)]
    assert "please hand the tablet back" in other.content.decode()
    assert Administration.objects.count() == 1


def test_only_the_clinicians_password_continues(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    _episode(client_record, theo)
    http = login_as(theo)
    url = _url(client_record)
    http.post(url, FORM_ITEM9)
    wrong = http.post(url, {"step": "continue", "password": "guess"})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode()
    assert "Testbrook" not in wrong.content.decode()

    right = http.post(url, {"step": "continue", "password": PASSWORD}, follow=True)
    assert right.redirect_chain[-1][0] == f"/clients/{client_record.public_id}/measures/"
    html = right.content.decode()
    assert "PHQ-9 saved: 2" in html and "Safety alert raised" in html
    # The tablet is released: the kiosk shows a fresh questionnaire again.
    assert "Little interest or pleasure" in http.get(url).content.decode()


def test_bad_answers_are_shown_on_the_kiosk_and_store_nothing(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    response = login_as(theo).post(_url(client_record), {"item_1": "7"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert Administration.objects.count() == 0


def test_kiosk_refuses_outsiders_and_anonymous(
    tess: User,
    remy: User,
    oscar: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    url = _url(client_record)
    for outsider in (tess, remy, oscar):
        http = login_as(outsider)
        assert http.get(url).status_code in {403, 404}
        assert http.post(url, FORM_ITEM9).status_code in {403, 404}
    anonymous = HttpClient().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert Administration.objects.count() == 0


def test_unknown_instrument_is_404(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    assert login_as(theo).get(_url(client_record, "nope")).status_code == 404
