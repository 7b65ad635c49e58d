"""Each scheduling write leaves exactly one audit event, through the pages and the API (ADR 0015):
success with the decision's role and reason; a bad input or a stale version changes nothing and
leaves one failure naming the error and the fields, never what was submitted; an outsider is
refused with one denied event and no change; opening an empty form records nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.errors import InvalidInput
from iptcare.core.models import Program
from iptcare.scheduling import services
from iptcare.scheduling.models import Appointment, AppointmentStatus, GroupSession
from tests.helpers import audit_events_after, last_audit_id
from tests.scheduling.conftest import reload

S = AppointmentStatus
Login = Callable[[User], HttpClient]
LOCATION = "Room 7, by the garden door"
REASON = "The sign-in sheet shows the client attended."


def _post(http: HttpClient, url: str, body: dict[str, Any]) -> Any:
    return http.post(url, data=json.dumps(body), content_type="application/json")


def _schedule_url(client: Client) -> str:
    return f"/api/v1/clients/{client.public_id}/appointments"


def _schedule_body(clinician: User, **change: Any) -> dict[str, Any]:
    return {
        "clinician": str(clinician.public_id),
        "kind": "individual",
        "starts_at": (timezone.now() + timedelta(days=2)).isoformat(),
        "duration_minutes": 50,
        "modality": "ipt",
        "location": LOCATION,
        **change,
    }


def _correct_url(appointment: Appointment) -> str:
    return f"/appointments/{appointment.public_id}/attendance/correct/"


def _no_show(theo: User, appointment: Appointment) -> Appointment:
    return services.appointment_record_attendance(
        actor=theo, appointment=appointment, status=S.NO_SHOW, version=1
    )


# --- scheduling an appointment (API) --------------------------------------------------------


def test_scheduling_leaves_one_success_event(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    since = last_audit_id()
    response = _post(http, _schedule_url(client_record), _schedule_body(theo))
    assert response.status_code == 201, response.content
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.actor_id) == ("create", "success", theo.public_id)
    assert (event.actor_role, event.reason) == ("therapist", "Therapist may create clinical_record")
    assert (event.resource_type, event.resource_id, event.client_id) == (
        "appointment",
        response.json()["id"],
        client_record.public_id,
    )
    assert event.detail == {"appointment": "schedule", "version": 1, "changed": []}


def test_a_bad_schedule_changes_nothing_and_leaves_one_failure_event(
    theo: User, client_record: Client, login_as: Login
) -> None:
    past = timezone.now() - timedelta(days=3)
    http = login_as(theo)
    since = last_audit_id()
    response = _post(
        http,
        _schedule_url(client_record),
        _schedule_body(theo, starts_at=past.isoformat()),
    )
    assert response.status_code == 422
    assert not Appointment.objects.exists()
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.resource_type, event.actor_role) == (
        "create",
        "failure",
        "client",
        "therapist",
    )
    assert event.reason == "failed: InvalidInput (422); fields: starts_at"
    recorded = json.dumps([event.reason, event.detail])
    assert LOCATION not in recorded and past.date().isoformat() not in recorded


@pytest.mark.parametrize(("persona", "status"), [("tess", 403), ("remy", 403), ("oscar", 404)])
def test_an_outsider_cannot_schedule_and_leaves_one_denied_event(
    request: pytest.FixtureRequest,
    theo: User,
    client_record: Client,
    login_as: Login,
    persona: str,
    status: int,
) -> None:
    actor: User = request.getfixturevalue(persona)
    http = login_as(actor)
    since = last_audit_id()
    response = _post(http, _schedule_url(client_record), _schedule_body(theo))
    assert response.status_code == status
    assert not Appointment.objects.exists()
    [event] = audit_events_after(since)
    assert (event.outcome, event.actor_id) == ("denied", actor.public_id)


# --- empty forms --------------------------------------------------------------------------------


def test_opening_an_empty_create_form_records_nothing(
    theo: User, client_record: Client, northside: Program, login_as: Login
) -> None:
    http = login_as(theo)
    since = last_audit_id()
    assert http.get(f"/clients/{client_record.public_id}/appointments/new/").status_code == 200
    assert http.get(f"/programs/{northside.public_id}/groups/new/").status_code == 200
    assert audit_events_after(since) == []


def test_an_outsider_opening_an_empty_form_is_refused_and_recorded(
    tess: User, client_record: Client, northside: Program, login_as: Login
) -> None:
    http = login_as(tess)
    since = last_audit_id()
    assert http.get(f"/clients/{client_record.public_id}/appointments/new/").status_code == 403
    assert http.get(f"/programs/{northside.public_id}/groups/new/").status_code == 403
    events = audit_events_after(since)
    assert [(e.action, e.outcome, e.resource_type) for e in events] == [
        ("create", "denied", "client"),
        ("create", "denied", "program"),
    ]


# --- correcting attendance (page and API) ------------------------------------------------------


def test_a_correction_leaves_one_success_event(
    theo: User, past_appointment: Appointment, login_as: Login
) -> None:
    no_show = _no_show(theo, past_appointment)
    http = login_as(theo)
    since = last_audit_id()
    response = http.post(
        _correct_url(no_show), {"status": "attended", "reason": REASON, "version": 2}
    )
    assert response.status_code == 302
    # The page's lookup of the appointment is part of the write: the write's event says it all.
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.resource_type, event.resource_id) == (
        "update",
        "success",
        "appointment",
        str(no_show.public_id),
    )
    assert (event.actor_role, event.reason) == ("therapist", "Therapist may update clinical_record")
    assert (event.detail["appointment"], event.detail["status"], event.detail["version"]) == (
        "correct attendance",
        "attended",
        3,
    )
    assert REASON not in json.dumps(event.detail)


def test_a_stale_correction_changes_nothing_and_leaves_one_failure_event(
    theo: User, past_appointment: Appointment, login_as: Login
) -> None:
    no_show = _no_show(theo, past_appointment)
    http = login_as(theo)
    since = last_audit_id()
    response = http.post(
        _correct_url(no_show), {"status": "attended", "reason": REASON, "version": 1}
    )
    assert response.status_code == 409
    assert (reload(no_show).status, reload(no_show).version) == (S.NO_SHOW, 2)
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.resource_id) == (
        "update",
        "failure",
        str(no_show.public_id),
    )
    assert event.reason == "failed: Conflict (409)"
    assert REASON not in json.dumps([event.reason, event.detail])


def test_a_bad_correction_over_the_api_leaves_one_failure_event_naming_the_fields(
    theo: User, past_appointment: Appointment, login_as: Login
) -> None:
    no_show = _no_show(theo, past_appointment)
    http = login_as(theo)
    since = last_audit_id()
    response = _post(
        http,
        f"/api/v1/appointments/{no_show.public_id}/attendance-correction",
        {"status": "no_show", "reason": REASON, "version": 2},  # what is recorded already
    )
    assert response.status_code == 422
    assert reload(no_show).version == 2
    [event] = audit_events_after(since)
    assert (event.outcome, event.reason) == (
        "failure",
        "failed: InvalidInput (422); fields: status",
    )
    assert REASON not in json.dumps(event.detail)


@pytest.mark.parametrize(("persona", "status"), [("tess", 403), ("oscar", 404)])
def test_an_outsider_cannot_correct_and_leaves_one_denied_event(
    request: pytest.FixtureRequest,
    theo: User,
    past_appointment: Appointment,
    login_as: Login,
    persona: str,
    status: int,
) -> None:
    no_show = _no_show(theo, past_appointment)
    actor: User = request.getfixturevalue(persona)
    http = login_as(actor)
    since = last_audit_id()
    response = http.post(
        _correct_url(no_show), {"status": "attended", "reason": REASON, "version": 2}
    )
    assert response.status_code == status
    assert (reload(no_show).status, reload(no_show).version) == (S.NO_SHOW, 2)
    [event] = audit_events_after(since)
    assert (event.outcome, event.actor_id) == ("denied", actor.public_id)


# --- group attendance (page): one write, each seat named ---------------------------------------


def test_group_attendance_is_one_event_naming_each_seat(
    theo: User,
    client_record: Client,
    make_client: Callable[..., Client],
    make_group: Callable[..., GroupSession],
    login_as: Login,
) -> None:
    session = make_group(timezone.now() - timedelta(minutes=30))
    other = make_client()
    for client in (client_record, other):
        services.group_roster_add(actor=theo, session=session, client=client)
    http = login_as(theo)
    since = last_audit_id()
    response = http.post(
        f"/groups/{session.public_id}/attendance/",
        {str(client_record.public_id): "attended", str(other.public_id): "no_show"},
    )
    assert response.status_code == 302
    [event] = audit_events_after(since)
    assert (event.action, event.outcome, event.resource_type, event.resource_id) == (
        "update",
        "success",
        "group_session",
        str(session.public_id),
    )
    seats = dict(session.roster.values_list("public_id", "status"))
    assert sorted((s["resource_id"], s["status"]) for s in event.detail["also"]) == sorted(
        (str(seat), status) for seat, status in seats.items()
    )
    assert {(s["action"], s["resource_type"]) for s in event.detail["also"]} == {
        ("update", "appointment")
    }


def test_group_attendance_refused_for_one_seat_changes_nothing_and_leaves_one_failure(
    theo: User,
    client_record: Client,
    make_client: Callable[..., Client],
    make_group: Callable[..., GroupSession],
) -> None:
    session = make_group(timezone.now() - timedelta(minutes=30))
    other = make_client()
    for client in (client_record, other):
        services.group_roster_add(actor=theo, session=session, client=client)
    services.group_record_attendance(
        actor=theo, session=session, attendance={other.public_id: S.LATE}
    )
    since = last_audit_id()
    with pytest.raises(InvalidInput):
        services.group_record_attendance(
            actor=theo,
            session=session,
            attendance={client_record.public_id: S.ATTENDED, other.public_id: S.ATTENDED},
        )
    assert dict(session.roster.values_list("client_id", "status")) == {
        client_record.pk: S.SCHEDULED,
        other.pk: S.LATE,
    }
    [event] = audit_events_after(since)
    assert (event.outcome, event.resource_type) == ("failure", "group_session")
    assert event.reason == f"failed: InvalidInput (422); fields: {other.public_id}"
