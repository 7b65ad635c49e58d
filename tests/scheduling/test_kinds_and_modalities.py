"""Every appointment kind and every modality, end to end: scheduled through the service, the API
and the page (group appointments through a group session, which the rules require), attendance
recorded, and the stored row, the API output and the pages compared with what was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone
from django.utils.html import escape

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.errors import InvalidInput
from iptcare.core.models import Program
from iptcare.scheduling import services
from iptcare.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    GroupSession,
    Modality,
)
from iptcare.scheduling.selectors import week_start_of
from tests.scheduling.conftest import reload

Login = Callable[[User], HttpClient]
PROBLEM = "application/problem+json"

KINDS = [
    "intake",
    "individual",
    "group",
    "family",
    "medication_management",
    "peer_support",
    "case_management",
]
MODALITIES = ["ipt", "cbt", "mi", "medication", "other"]
# Group appointments are roster seats of a group session; every other kind is booked directly.
DIRECT_KINDS = [k for k in KINDS if k != AppointmentKind.GROUP]
KIND_X_MODALITY = [(k, m) for k in DIRECT_KINDS for m in MODALITIES]


def post(http: HttpClient, url: str, body: dict[str, Any]) -> Any:
    return http.post(url, data=json.dumps(body, default=str), content_type="application/json")


def just_started() -> datetime:
    """A start in the past (attendance can be recorded) but within the scheduling grace."""
    return (timezone.now() - timedelta(hours=1)).replace(microsecond=0)


def test_the_kinds_and_modalities_are_the_expected_ones() -> None:
    assert AppointmentKind.values == KINDS
    assert Modality.values == MODALITIES


# --- every direct kind x every modality --------------------------------------------------------


@pytest.mark.parametrize(("kind", "modality"), KIND_X_MODALITY)
def test_api_schedules_plans_the_modality_and_attendance_keeps_it(
    theo: User, client_record: Client, login_as: Login, kind: str, modality: str
) -> None:
    http = login_as(theo)
    start = just_started()
    created = post(
        http,
        f"/api/v1/clients/{client_record.public_id}/appointments",
        {
            "clinician": str(theo.public_id),
            "kind": kind,
            "starts_at": start.isoformat(),
            "duration_minutes": 45,
            "modality": modality,
            "location": "Room 4",
            "is_telehealth": True,
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["kind"], body["modality"], body["status"]) == (kind, modality, "scheduled")
    assert (body["group_session"], body["version"]) == (None, 1)
    row = Appointment.objects.get(public_id=body["id"])
    assert (row.kind, row.modality, row.starts_at, row.duration_minutes) == (
        kind,
        modality,
        start,
        45,
    )
    assert (row.location, row.is_telehealth, row.clinician, row.program_id) == (
        "Room 4",
        True,
        theo,
        client_record.program_id,
    )

    attended = post(
        http, f"/api/v1/appointments/{body['id']}/attendance", {"status": "attended", "version": 1}
    )
    assert attended.status_code == 200, attended.content
    out = attended.json()
    assert (out["kind"], out["modality"], out["status"], out["version"]) == (
        kind,
        modality,
        "attended",
        2,
    )
    assert out["attendance_recorded_at"] is not None
    row = reload(row)
    assert (row.kind, row.modality, row.status, row.attendance_recorded_by) == (
        kind,
        modality,
        "attended",
        theo,
    )
    assert http.get(f"/api/v1/appointments/{body['id']}").json() == out
    listed = http.get(f"/api/v1/clients/{client_record.public_id}/appointments").json()
    assert listed == [out]


@pytest.mark.parametrize(("kind", "modality"), KIND_X_MODALITY)
@pytest.mark.parametrize("status", [AppointmentStatus.ATTENDED, AppointmentStatus.LATE])
def test_service_schedules_without_a_modality_and_attendance_records_the_delivered_one(
    theo: User,
    client_record: Client,
    login_as: Login,
    kind: str,
    modality: str,
    status: str,
) -> None:
    appointment = services.appointment_schedule(
        actor=theo,
        client=client_record,
        clinician=theo,
        kind=kind,
        starts_at=just_started(),
        duration_minutes=50,
    )
    assert (reload(appointment).kind, reload(appointment).modality) == (kind, "")
    with pytest.raises(InvalidInput) as exc:
        services.appointment_record_attendance(actor=theo, appointment=appointment, status=status)
    assert set(exc.value.field_errors) == {"modality"}
    assert reload(appointment).status == AppointmentStatus.SCHEDULED

    done = services.appointment_record_attendance(
        actor=theo, appointment=appointment, status=status, modality=modality, version=1
    )
    assert (done.kind, done.modality, done.status, done.version) == (kind, modality, status, 2)
    row = reload(appointment)
    assert (row.kind, row.modality, row.status) == (kind, modality, status)
    out = login_as(theo).get(f"/api/v1/appointments/{appointment.public_id}").json()
    assert (out["kind"], out["modality"], out["status"]) == (kind, modality, status)


@pytest.mark.parametrize("modality", MODALITIES)
def test_the_delivered_modality_replaces_the_planned_one(
    theo: User, client_record: Client, login_as: Login, modality: str
) -> None:
    planned = next(m for m in MODALITIES if m != modality)
    appointment = services.appointment_schedule(
        actor=theo,
        client=client_record,
        clinician=theo,
        kind=AppointmentKind.INDIVIDUAL,
        starts_at=just_started(),
        duration_minutes=50,
        modality=planned,
    )
    response = post(
        login_as(theo),
        f"/api/v1/appointments/{appointment.public_id}/attendance",
        {"status": "late", "modality": modality, "version": 1},
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["modality"]) == ("late", modality)
    assert (reload(appointment).status, reload(appointment).modality) == ("late", modality)


@pytest.mark.parametrize("kind", DIRECT_KINDS)
def test_a_no_show_keeps_the_kind_and_needs_no_modality(
    theo: User, client_record: Client, kind: str
) -> None:
    appointment = services.appointment_schedule(
        actor=theo,
        client=client_record,
        clinician=theo,
        kind=kind,
        starts_at=just_started(),
        duration_minutes=50,
    )
    done = services.appointment_record_attendance(
        actor=theo, appointment=appointment, status=AppointmentStatus.NO_SHOW
    )
    row = reload(done)
    assert (row.kind, row.modality, row.status) == (kind, "", "no_show")


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "sauna"), ("kind", "GROUP"), ("modality", "hypnosis"), ("modality", "IPT")],
)
def test_unknown_kind_or_modality_is_refused_and_books_nothing(
    theo: User, client_record: Client, login_as: Login, field: str, value: str
) -> None:
    body = {
        "clinician": str(theo.public_id),
        "kind": "individual",
        "starts_at": just_started().isoformat(),
        "duration_minutes": 50,
        "modality": "ipt",
    } | {field: value}
    response = post(login_as(theo), f"/api/v1/clients/{client_record.public_id}/appointments", body)
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert field in {e["field"] for e in response.json()["errors"]}
    chosen = {"kind": "individual", "modality": "ipt", field: value}
    with pytest.raises(InvalidInput) as exc:
        services.appointment_schedule(
            actor=theo,
            client=client_record,
            clinician=theo,
            kind=chosen["kind"],
            modality=chosen["modality"],
            starts_at=just_started(),
            duration_minutes=50,
        )
    assert field in exc.value.field_errors
    assert not Appointment.objects.exists()


def test_attendance_with_an_unknown_modality_changes_nothing(
    theo: User, client_record: Client, login_as: Login
) -> None:
    appointment = services.appointment_schedule(
        actor=theo,
        client=client_record,
        clinician=theo,
        kind=AppointmentKind.FAMILY,
        starts_at=just_started(),
        duration_minutes=50,
    )
    response = post(
        login_as(theo),
        f"/api/v1/appointments/{appointment.public_id}/attendance",
        {"status": "attended", "modality": "hypnosis", "version": 1},
    )
    assert response.status_code == 422
    with pytest.raises(InvalidInput) as exc:
        services.appointment_record_attendance(
            actor=theo, appointment=appointment, status="attended", modality="hypnosis"
        )
    assert "modality" in exc.value.field_errors
    row = reload(appointment)
    assert (row.status, row.modality, row.version) == ("scheduled", "", 1)


# --- the group kind: through a group session ---------------------------------------------------


def test_the_group_kind_cannot_be_booked_directly(
    theo: User, client_record: Client, login_as: Login
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.appointment_schedule(
            actor=theo,
            client=client_record,
            clinician=theo,
            kind=AppointmentKind.GROUP,
            starts_at=just_started(),
            duration_minutes=50,
            modality=Modality.IPT,
        )
    assert "kind" in exc.value.field_errors
    page = login_as(theo).get(f"/clients/{client_record.public_id}/appointments/new/")
    kinds = [value for value, _ in page.context["form"].fields["kind"].choices]
    assert kinds == DIRECT_KINDS
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("modality", MODALITIES)
def test_group_seats_carry_the_group_kind_and_the_sessions_modality(
    theo: User,
    client_record: Client,
    northside: Program,
    make_client: Callable[..., Client],
    login_as: Login,
    modality: str,
) -> None:
    http = login_as(theo)
    start = just_started()
    created = post(
        http,
        "/api/v1/group-sessions",
        {
            "program": str(northside.public_id),
            "title": "Skills group",
            "facilitator": str(theo.public_id),
            "starts_at": start.isoformat(),
            "duration_minutes": 90,
            "modality": modality,
            "location": "Hall",
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["modality"] == modality
    sid = created.json()["id"]
    session = GroupSession.objects.get(public_id=sid)
    assert session.modality == modality

    other = make_client()
    seats = {}
    for client in (client_record, other):
        added = post(
            http, f"/api/v1/group-sessions/{sid}/roster", {"client": str(client.public_id)}
        )
        assert added.status_code == 201, added.content
        seat = added.json()
        assert (seat["kind"], seat["modality"], seat["group_session"]) == ("group", modality, sid)
        assert (seat["status"], seat["starts_at"]) == ("scheduled", created.json()["starts_at"])
        seats[client.public_id] = seat["id"]

    recorded = post(
        http,
        f"/api/v1/group-sessions/{sid}/attendance",
        {
            "attendees": [
                {"client": str(client_record.public_id), "status": "attended"},
                {"client": str(other.public_id), "status": "late"},
            ]
        },
    )
    assert recorded.status_code == 200, recorded.content
    assert {s["client"]: s["status"] for s in recorded.json()["roster"]} == {
        str(client_record.public_id): "attended",
        str(other.public_id): "late",
    }
    for client, status in ((client_record, "attended"), (other, "late")):
        row = Appointment.objects.get(public_id=seats[client.public_id])
        assert (row.kind, row.modality, row.status, row.group_session) == (
            "group",
            modality,
            status,
            session,
        )
        out = http.get(f"/api/v1/appointments/{row.public_id}").json()
        assert (out["kind"], out["modality"], out["status"], out["group_session"]) == (
            "group",
            modality,
            status,
            sid,
        )


@pytest.mark.parametrize("modality", MODALITIES)
def test_group_attendance_records_the_delivered_modality_on_each_seat(
    theo: User,
    client_record: Client,
    make_group: Callable[..., GroupSession],
    login_as: Login,
    modality: str,
) -> None:
    session = make_group(just_started())  # planned: IPT
    seat = services.group_roster_add(actor=theo, session=session, client=client_record)
    assert (seat.kind, seat.modality) == ("group", "ipt")
    [done] = services.group_record_attendance(
        actor=theo,
        session=session,
        attendance={client_record.public_id: AppointmentStatus.ATTENDED},
        modality=modality,
    )
    assert (done.kind, done.modality, done.status) == ("group", modality, "attended")
    out = login_as(theo).get(f"/api/v1/appointments/{seat.public_id}").json()
    assert (out["kind"], out["modality"], out["status"]) == ("group", modality, "attended")


# --- what the pages and the week show ------------------------------------------------------------


def _book_every_kind(theo: User, client: Client, make_group: Callable[..., GroupSession]) -> None:
    start = just_started()
    for i, kind in enumerate(DIRECT_KINDS):
        services.appointment_schedule(
            actor=theo,
            client=client,
            clinician=theo,
            kind=kind,
            starts_at=start - timedelta(minutes=i),
            duration_minutes=30,
            modality=MODALITIES[i % len(MODALITIES)],
        )
    session = make_group(start - timedelta(minutes=len(DIRECT_KINDS)))
    services.group_roster_add(actor=theo, session=session, client=client)


def test_the_appointment_list_and_the_chart_show_every_kind_and_modality(
    theo: User,
    client_record: Client,
    make_group: Callable[..., GroupSession],
    login_as: Login,
) -> None:
    _book_every_kind(theo, client_record, make_group)
    http = login_as(theo)
    listing = http.get(f"/clients/{client_record.public_id}/appointments/").content.decode()
    chart = http.get(f"/clients/{client_record.public_id}/").content.decode()
    timeline = chart[chart.index('data-testid="timeline"') :]
    for kind in DIRECT_KINDS:
        assert f"<td>{escape(AppointmentKind(kind).label)}</td>" in listing, kind
    for kind in KINDS:
        assert f"· {escape(AppointmentKind(kind).label)} with" in timeline, kind
    for modality in MODALITIES:
        assert f"<td>{escape(Modality(modality).label)}</td>" in listing, modality
        assert f"· {escape(Modality(modality).label)}</li>" in timeline, modality
    # The group seat is listed by its session's title, linked to the session.
    assert "IPT skills group</a>" in listing


def test_the_week_api_returns_every_kind(
    theo: User,
    client_record: Client,
    make_group: Callable[..., GroupSession],
    login_as: Login,
) -> None:
    _book_every_kind(theo, client_record, make_group)
    starts = list(Appointment.objects.values_list("starts_at", flat=True))
    kinds: list[str] = []
    http = login_as(theo)
    for monday in sorted({week_start_of(timezone.localtime(s).date()) for s in starts}):
        week = http.get(f"/api/v1/schedule/week?start={monday}").json()
        kinds += [a["kind"] for d in week["days"] for a in d["appointments"]]
    assert sorted(kinds) == sorted(KINDS)


@pytest.mark.parametrize("kind", DIRECT_KINDS)
def test_the_schedule_page_books_every_direct_kind_and_the_attendance_page_records_it(
    theo: User, client_record: Client, login_as: Login, kind: str
) -> None:
    http = login_as(theo)
    modality = MODALITIES[DIRECT_KINDS.index(kind) % len(MODALITIES)]
    start = timezone.localtime(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    response = http.post(
        f"/clients/{client_record.public_id}/appointments/new/",
        {
            "clinician": theo.pk,
            "kind": kind,
            "modality": modality,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": 50,
        },
    )
    assert response.status_code == 302, response.content.decode()
    appointment = Appointment.objects.get()
    assert (appointment.kind, appointment.modality, appointment.starts_at) == (
        kind,
        modality,
        start,
    )
    page = http.get(f"/appointments/{appointment.public_id}/attendance/").content.decode()
    assert f"<h1>{escape(AppointmentKind(kind).label)} with" in page
    assert f"<dd>{escape(Modality(modality).label)}</dd>" in page

    # Move it into the past (setup, straight into the table), then record through the page.
    Appointment.objects.filter(pk=appointment.pk).update(starts_at=just_started())
    delivered = MODALITIES[(MODALITIES.index(modality) + 1) % len(MODALITIES)]
    recorded = http.post(
        f"/appointments/{appointment.public_id}/attendance/",
        {"status": "attended", "modality": delivered, "version": 1},
    )
    assert recorded.status_code == 302, recorded.content.decode()
    row = reload(appointment)
    assert (row.kind, row.modality, row.status, row.version) == (kind, delivered, "attended", 2)
