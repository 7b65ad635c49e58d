"""Each recovery write leaves exactly one audit event, through the pages and the API (ADR 0015):
success with the decision's role and reason; a bad input or a stale version changes nothing and
leaves one failure naming the error and the fields, never what was submitted (results, amounts,
notes are clinical content); an outsider is refused with one denied event and no change."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.recovery.models import DrugScreen, ReturnToUseEvent, UseDay
from tests.helpers import audit_events_after, last_audit_id
from tests.recovery.conftest import TODAY, RecordDays, at, days_ago

Login = Callable[[User], HttpClient]
NOTES = "Collected by the night nurse after the family visit"
AMOUNT = "three bags"
NOTE = "Told me at group that it happened after the funeral"


def _send(http: HttpClient, method: str, url: str, body: dict[str, Any]) -> Any:
    return getattr(http, method)(url, data=json.dumps(body), content_type="application/json")


def _screens_url(client: Client) -> str:
    return f"/api/v1/clients/{client.public_id}/drug-screens"


def _screen_body(**change: Any) -> dict[str, Any]:
    return {
        "collected_at": at(days_ago(1)).isoformat(),
        "specimen": "urine",
        "results": [{"analyte": "thc", "result": "negative"}],
        "notes": NOTES,
        **change,
    }


def _days_url(client: Client) -> str:
    return f"/api/v1/clients/{client.public_id}/use-days"


def _day(ago: int, *, used: bool, amount: str = "", version: int | None = None) -> dict[str, Any]:
    day: dict[str, Any] = {
        "date": days_ago(ago).isoformat(),
        "substance": "heroin",
        "used": used,
        "amount": amount,
    }
    if version is not None:
        day["version"] = version
    return day


def _days_body(*days: dict[str, Any]) -> dict[str, Any]:
    dates = sorted(d["date"] for d in days)
    return {"start": dates[0], "end": dates[-1], "source": "self_report", "days": list(days)}


# --- drug screens (API) -------------------------------------------------------------------------


def test_recording_a_screen_leaves_one_success_event(
    theo: User, client_record: Client, episode: Episode, login_as: Login
) -> None:
    http = login_as(theo)
    since = last_audit_id()
    response = _send(http, "post", _screens_url(client_record), _screen_body())
    assert response.status_code == 201, response.content
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.actor_id) == ("create", "success", theo.public_id)
    assert (event.actor_role, event.reason) == ("therapist", "Therapist may create clinical_record")
    assert (event.resource_type, event.resource_id, event.client_id) == (
        "drug_screen",
        response.json()["id"],
        client_record.public_id,
    )
    assert event.detail == {"of": "drug_screen", "results": 1, "return_to_use_events": []}
    assert NOTES not in json.dumps(event.detail)


def test_a_bad_screen_changes_nothing_and_leaves_one_failure_event(
    theo: User, client_record: Client, login_as: Login
) -> None:
    future = timezone.now() + timedelta(days=2)
    http = login_as(theo)
    since = last_audit_id()
    response = _send(
        http,
        "post",
        _screens_url(client_record),
        _screen_body(collected_at=future.isoformat()),
    )
    assert response.status_code == 422
    assert not DrugScreen.objects.exists()
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.resource_type, event.actor_role) == (
        "create",
        "failure",
        "client",
        "therapist",
    )
    assert event.reason == "failed: InvalidInput (422); fields: collected_at"
    recorded = json.dumps([event.reason, event.detail])
    assert NOTES not in recorded and future.date().isoformat() not in recorded


@pytest.mark.parametrize(("persona", "status"), [("tess", 403), ("remy", 403), ("oscar", 404)])
def test_an_outsider_cannot_record_a_screen_and_leaves_one_denied_event(
    request: pytest.FixtureRequest,
    client_record: Client,
    login_as: Login,
    persona: str,
    status: int,
) -> None:
    actor: User = request.getfixturevalue(persona)
    http = login_as(actor)
    since = last_audit_id()
    response = _send(http, "post", _screens_url(client_record), _screen_body())
    assert response.status_code == status
    assert not DrugScreen.objects.exists()
    [event] = audit_events_after(since)
    assert (event.outcome, event.actor_id) == ("denied", actor.public_id)


# --- days of use (API) --------------------------------------------------------------------------


def test_recording_days_leaves_one_success_event(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    since = last_audit_id()
    body = _days_body(_day(2, used=False), _day(1, used=True, amount=AMOUNT))
    response = _send(http, "put", _days_url(client_record), body)
    assert response.status_code == 200, response.content
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.resource_type, event.client_id) == (
        "update",
        "success",
        "client",
        client_record.public_id,
    )
    assert (event.actor_role, event.reason) == ("therapist", "Therapist may update clinical_record")
    assert (event.detail["of"], event.detail["created"], event.detail["changed"]) == (
        "use_days",
        2,
        0,
    )
    assert AMOUNT not in json.dumps(event.detail)


def test_a_stale_day_changes_nothing_and_leaves_one_failure_event(
    theo: User, client_record: Client, record_days: RecordDays, login_as: Login
) -> None:
    record_days("aa")
    row = UseDay.objects.get(date=days_ago(1))
    http = login_as(theo)
    since = last_audit_id()
    body = _days_body(_day(1, used=True, amount=AMOUNT, version=row.version + 1))
    response = _send(http, "put", _days_url(client_record), body)
    assert response.status_code == 409
    assert UseDay.objects.get(pk=row.pk).version == row.version
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.reason) == (
        "update",
        "failure",
        "failed: Conflict (409)",
    )
    assert AMOUNT not in json.dumps([event.reason, event.detail])


def test_a_bad_day_leaves_one_failure_event_naming_the_field(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    since = last_audit_id()
    body = _days_body(_day(1, used=False, amount=AMOUNT))  # an amount on a day without use
    response = _send(http, "put", _days_url(client_record), body)
    assert response.status_code == 422
    assert not UseDay.objects.exists()
    [event] = audit_events_after(since)
    assert (event.outcome, event.reason) == (
        "failure",
        "failed: InvalidInput (422); fields: days.0.amount",
    )
    assert AMOUNT not in json.dumps(event.detail)


@pytest.mark.parametrize(("persona", "status"), [("tess", 403), ("oscar", 404)])
def test_an_outsider_cannot_record_days_and_leaves_one_denied_event(
    request: pytest.FixtureRequest,
    client_record: Client,
    login_as: Login,
    persona: str,
    status: int,
) -> None:
    actor: User = request.getfixturevalue(persona)
    http = login_as(actor)
    since = last_audit_id()
    body = _days_body(_day(1, used=True))
    response = _send(http, "put", _days_url(client_record), body)
    assert response.status_code == status
    assert not UseDay.objects.exists()
    [event] = audit_events_after(since)
    assert (event.outcome, event.actor_id) == ("denied", actor.public_id)


# --- a reported return to use (page) ------------------------------------------------------------


def _report_url(client: Client) -> str:
    return f"/clients/{client.public_id}/recovery/return-to-use/"


def test_reporting_a_return_to_use_leaves_one_success_event(
    theo: User, client_record: Client, episode: Episode, login_as: Login
) -> None:
    http = login_as(theo)
    since = last_audit_id()
    response = http.post(
        _report_url(client_record),
        {"date": days_ago(2).isoformat(), "substance": "alcohol", "note": NOTE},
    )
    assert response.status_code == 302
    event_row = ReturnToUseEvent.objects.get()
    # The page's lookup of the client is part of the write: the write's event says it all.
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.resource_type, event.resource_id) == (
        "create",
        "success",
        "return_to_use_event",
        str(event_row.public_id),
    )
    assert (event.actor_role, event.reason) == ("therapist", "Therapist may create clinical_record")
    assert event.detail == {"of": "return_to_use", "source": "clinician"}


def test_a_bad_report_changes_nothing_and_leaves_one_failure_event(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    since = last_audit_id()
    tomorrow = TODAY + timedelta(days=1)
    response = http.post(
        _report_url(client_record),
        {"date": tomorrow.isoformat(), "substance": "alcohol", "note": NOTE},
    )
    assert response.status_code == 400
    assert not ReturnToUseEvent.objects.exists()
    # The page shown again reads the client's recovery record for the write that failed: the
    # failure is the request's one event.
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.resource_type) == ("create", "failure", "client")
    assert event.reason == "failed: InvalidInput (422); fields: date"
    assert NOTE not in json.dumps([event.reason, event.detail])


def test_an_outsider_cannot_report_and_leaves_one_denied_event(
    tess: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(tess)
    since = last_audit_id()
    response = http.post(
        _report_url(client_record), {"date": days_ago(2).isoformat(), "substance": "alcohol"}
    )
    assert response.status_code == 403
    assert not ReturnToUseEvent.objects.exists()
    [event] = audit_events_after(since)
    assert (event.outcome, event.actor_id) == ("denied", tess.public_id)


def test_the_recovery_page_with_its_empty_forms_records_only_its_reads(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    since = last_audit_id()
    assert http.get(f"/clients/{client_record.public_id}/recovery/").status_code == 200
    events = audit_events_after(since)
    assert events and {(e.action, e.outcome) for e in events} <= {
        ("view", "success"),
        ("list", "success"),
    }
