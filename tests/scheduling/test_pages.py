"""Scheduling pages: what they show, field errors that change nothing, outsiders refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.models import Program
from iptcare.scheduling.models import Appointment, AppointmentStatus, GroupSession, Modality
from tests.scheduling.conftest import MakeAppointment, reload

Login = Callable[[User], HttpClient]
MONDAY = date(2026, 3, 2)


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def test_week_page_shows_the_days_and_links(
    theo: User, client_record: Client, make_appointment: MakeAppointment, login_as: Login
) -> None:
    make_appointment(client_record, _at(MONDAY + timedelta(days=1), 10))
    response = login_as(theo).get(f"/schedule/week/?start={MONDAY}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Wren Testbrook" in text
    assert "Tue 3 Mar" in text
    assert "?start=2026-02-23" in text and "?start=2026-03-09" in text
    assert "style=" not in text and "<script" not in text


def test_week_page_defaults_to_this_week(theo: User, login_as: Login) -> None:
    response = login_as(theo).get("/schedule/week/")
    assert response.status_code == 200
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    assert response.context["week"].week_start == monday


def test_week_page_refuses_a_bad_start_date(theo: User, login_as: Login) -> None:
    response = login_as(theo).get("/schedule/week/?start=2026-13-40")
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.content.decode()


def test_week_page_query_count_does_not_grow(
    theo: User,
    client_record: Client,
    make_client: Callable[..., Client],
    make_appointment: MakeAppointment,
    login_as: Login,
) -> None:
    http = login_as(theo)
    clients = [client_record, make_client(), make_client()]
    url = f"/schedule/week/?start={MONDAY}"

    def add(n: int, offset: int) -> None:
        for i in range(n):
            make_appointment(clients[i % 3], _at(MONDAY, 0) + timedelta(hours=offset + i))

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert http.get(url).status_code == 200
        return len(ctx.captured_queries)

    add(10, 0)
    small = count()
    add(20, 10)
    assert count() == small


@pytest.mark.parametrize("persona", ["tess", "remy"])
def test_week_of_a_northside_therapist_refused(
    request: pytest.FixtureRequest,
    theo: User,
    client_record: Client,
    make_appointment: MakeAppointment,
    login_as: Login,
    persona: str,
) -> None:
    make_appointment(client_record, _at(MONDAY, 10))
    http = login_as(request.getfixturevalue(persona))
    response = http.get(f"/schedule/week/?start={MONDAY}&clinician={theo.public_id}")
    assert response.status_code == 403
    assert "Testbrook" not in response.content.decode()


def test_week_of_another_organisations_clinician_is_not_found(
    theo: User, oscar: User, login_as: Login
) -> None:
    response = login_as(oscar).get(f"/schedule/week/?clinician={theo.public_id}")
    assert response.status_code == 404


def test_schedule_form_creates_an_appointment(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    url = f"/clients/{client_record.public_id}/appointments/new/"
    assert http.get(url).status_code == 200
    start = timezone.localtime(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    response = http.post(
        url,
        {
            "clinician": theo.pk,
            "kind": "individual",
            "modality": "ipt",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": 50,
            "location": "Room 1",
        },
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.starts_at, appointment.clinician, appointment.modality) == (
        start,
        theo,
        Modality.IPT,
    )
    timeline = http.get(f"/clients/{client_record.public_id}/appointments/")
    assert "Room 1" not in timeline.content.decode()  # the list shows status, not location
    assert "Scheduled" in timeline.content.decode()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_minutes": 2}, "duration_minutes"),
        ({"starts_at": "not a date"}, "starts_at"),
        ({"kind": "group"}, "kind"),
        ({"clinician": "999999"}, "clinician"),
        ({"starts_at": "2020-01-01T10:00"}, "starts_at"),
    ],
)
def test_schedule_form_bad_input_shows_field_errors_and_saves_nothing(
    theo: User, client_record: Client, login_as: Login, change: dict[str, object], field: str
) -> None:
    data: dict[str, object] = {
        "clinician": theo.pk,
        "kind": "individual",
        "starts_at": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": 50,
    }
    data.update(change)
    response = login_as(theo).post(f"/clients/{client_record.public_id}/appointments/new/", data)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert 'class="field-error"' in response.content.decode()
    assert not Appointment.objects.exists()


def test_schedule_form_refuses_a_clinician_of_another_program(
    theo: User, tess: User, client_record: Client, login_as: Login
) -> None:
    data = {
        "clinician": tess.pk,
        "kind": "individual",
        "starts_at": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": 50,
    }
    response = login_as(theo).post(f"/clients/{client_record.public_id}/appointments/new/", data)
    assert response.status_code == 400  # not among the choices: tess is not Northside staff
    assert not Appointment.objects.exists()


def test_attendance_form_records_and_shows_errors(
    theo: User, past_appointment: Appointment, future_appointment: Appointment, login_as: Login
) -> None:
    http = login_as(theo)
    bad = http.post(
        f"/appointments/{future_appointment.public_id}/attendance/",
        {"status": "attended", "version": 1},
    )
    assert bad.status_code == 400
    assert bad.context["form"].errors["status"] == ["This appointment has not started yet."]
    assert reload(future_appointment).status == AppointmentStatus.SCHEDULED
    no_reason = http.post(
        f"/appointments/{future_appointment.public_id}/attendance/",
        {"status": "cancelled_client", "version": 1},
    )
    assert no_reason.status_code == 400
    assert no_reason.context["form"].errors["cancellation_reason"]
    ok = http.post(
        f"/appointments/{past_appointment.public_id}/attendance/",
        {"status": "late", "modality": "cbt", "version": 1},
    )
    assert ok.status_code == 302
    fresh = reload(past_appointment)
    assert (fresh.status, fresh.modality) == (AppointmentStatus.LATE, Modality.CBT)
    stale = http.post(
        f"/appointments/{future_appointment.public_id}/attendance/",
        {"status": "cancelled_program", "cancellation_reason": "x", "version": 9},
    )
    assert stale.status_code == 409


def test_group_pages_create_roster_and_attendance(
    theo: User,
    client_record: Client,
    northside: Program,
    make_group: Callable[..., GroupSession],
    login_as: Login,
) -> None:
    http = login_as(theo)
    new_url = f"/programs/{northside.public_id}/groups/new/"
    assert http.get(new_url).status_code == 200
    bad = http.post(new_url, {"title": "", "facilitator": theo.pk, "modality": "ipt"})
    assert bad.status_code == 400 and not GroupSession.objects.exists()
    start = timezone.now() + timedelta(days=1)
    created = http.post(
        new_url,
        {
            "title": "IPT skills",
            "facilitator": theo.pk,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": 90,
            "modality": "ipt",
        },
    )
    assert created.status_code == 302
    session = GroupSession.objects.get()
    # A past session to record attendance in.
    past = make_group(timezone.now() - timedelta(minutes=20))
    page = f"/groups/{past.public_id}/"
    assert http.post(f"{page}roster/", {"client": str(client_record.public_id)}).status_code == 302
    dup = http.post(f"{page}roster/", {"client": str(client_record.public_id)})
    assert dup.status_code == 400
    shown = http.get(page)
    assert shown.status_code == 200 and "Wren Testbrook" in shown.content.decode()
    empty = http.post(f"{page}attendance/", {})
    assert empty.status_code == 400
    recorded = http.post(f"{page}attendance/", {str(client_record.public_id): "no_show"})
    assert recorded.status_code == 302
    assert past.roster.get().status == AppointmentStatus.NO_SHOW
    assert http.get(f"/groups/{session.public_id}/").status_code == 200


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_refused_on_every_scheduling_page(
    request: pytest.FixtureRequest,
    theo: User,
    client_record: Client,
    northside: Program,
    past_appointment: Appointment,
    make_group: Callable[..., GroupSession],
    login_as: Login,
    persona: str,
) -> None:
    session = make_group(timezone.now() - timedelta(minutes=5))
    Appointment.objects.create(
        organisation=client_record.organisation,
        program=northside,
        client=client_record,
        clinician=theo,
        kind="group",
        modality="ipt",
        starts_at=session.starts_at,
        duration_minutes=90,
        group_session=session,
    )
    http = login_as(request.getfixturevalue(persona))
    c, a, s = client_record.public_id, past_appointment.public_id, session.public_id
    gets = [
        f"/schedule/week/?clinician={theo.public_id}&start={MONDAY}",
        f"/clients/{c}/appointments/",
        f"/clients/{c}/appointments/new/",
        f"/appointments/{a}/attendance/",
        f"/programs/{northside.public_id}/groups/new/",
        f"/groups/{s}/",
    ]
    posts = [
        (f"/clients/{c}/appointments/new/", {"clinician": theo.pk, "kind": "intake"}),
        (f"/appointments/{a}/attendance/", {"status": "attended", "version": 1}),
        (
            f"/appointments/{a}/attendance/correct/",
            {"status": "attended", "reason": "x", "version": 1},
        ),
        (f"/programs/{northside.public_id}/groups/new/", {"title": "x"}),
        (f"/groups/{s}/roster/", {"client": str(c)}),
        (f"/groups/{s}/roster/{c}/remove/", {}),
        (f"/groups/{s}/attendance/", {str(c): "attended"}),
    ]
    before = (Appointment.objects.count(), GroupSession.objects.count())
    for url in gets:
        response = http.get(url)
        assert response.status_code in {403, 404}, url
        assert "Testbrook" not in response.content.decode(), url
    for url, data in posts:
        response = http.post(url, data)
        assert response.status_code in {403, 404}, url
        assert "Testbrook" not in response.content.decode(), url
    assert (Appointment.objects.count(), GroupSession.objects.count()) == before
    assert reload(past_appointment).status == AppointmentStatus.SCHEDULED
    assert set(session.roster.values_list("status", flat=True)) == {AppointmentStatus.SCHEDULED}
