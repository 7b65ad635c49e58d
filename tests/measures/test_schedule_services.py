"""Measure schedules through the service and the page (history, 409, field errors, outsiders
refused), and the overdue sweep (one alert, idempotent, none once measured)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import Conflict, Forbidden, InvalidInput
from iptcare.measures import engine, services
from iptcare.measures.models import (
    Administration,
    Alert,
    AlertKind,
    AlertStatus,
    MeasureSchedule,
    Mode,
)
from iptcare.measures.schedule_services import SWEEP_ACTOR, overdue_sweep, schedule_set
from iptcare.measures.schedules import ScheduleRule
from tests.test_caseload_chart import _appointment, _episode

PHQ9_ONLY = [ScheduleRule("phq-9", at_admission=True, every_sessions=4)]


def given(episode: Episode, code: str, days_ago: int, total: float | None = 10) -> Administration:
    """An administration on a past day (services only write "now")."""
    at = datetime.combine(
        timezone.localdate() - timedelta(days=days_ago),
        time(10),
        tzinfo=timezone.get_current_timezone(),
    )
    instrument = engine.get(code)
    return Administration.objects.create(
        organisation_id=episode.organisation_id,
        program_id=episode.program_id,
        client_id=episode.client_id,
        episode=episode,
        instrument=code,
        instrument_version=instrument.version,
        mode=Mode.IN_SESSION,
        completed_at=at,
        total=total,
        band_label="" if total is None else "band",
        complete=total is not None,
    )


@pytest.fixture
def episode(client_record: Client, theo: User) -> Episode:
    return _episode(client_record, theo)  # admitted 35 days ago


# --- the service --------------------------------------------------------------------------------


def test_saving_keeps_history_and_numbers_versions(theo: User, episode: Episode) -> None:
    first = schedule_set(actor=theo, episode=episode, rows=PHQ9_ONLY, based_on=0)
    assert [(r.instrument, r.version, r.active, r.created_by) for r in first] == [
        ("phq-9", 1, True, theo)
    ]
    second = schedule_set(
        actor=theo,
        episode=episode,
        rows=[
            ScheduleRule("phq-9", at_admission=True, every_sessions=2),
            ScheduleRule("audit-c", every_days=30),
        ],
        based_on=1,
    )
    assert {r.version for r in second} == {2}
    rows = MeasureSchedule.objects.filter(episode=episode)
    assert rows.count() == 3
    old = rows.get(version=1)
    assert not old.active and old.deactivated_by == theo and old.deactivated_at is not None
    assert sorted(rows.filter(active=True).values_list("instrument", flat=True)) == [
        "audit-c",
        "phq-9",
    ]
    event = AuditEvent.objects.filter(client_id=episode.client.public_id).latest("id")
    assert event.action == "update" and event.outcome == "success"


def test_a_stale_save_is_refused_and_changes_nothing(theo: User, episode: Episode) -> None:
    schedule_set(actor=theo, episode=episode, rows=PHQ9_ONLY, based_on=0)
    with pytest.raises(Conflict):
        schedule_set(
            actor=theo, episode=episode, rows=[ScheduleRule("gad-7", every_days=7)], based_on=0
        )
    assert list(
        MeasureSchedule.objects.filter(episode=episode).values_list("instrument", "active")
    ) == [("phq-9", True)]


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([ScheduleRule("nope", at_admission=True)], "nope.instrument"),
        ([ScheduleRule("phq-9", every_sessions=0)], "phq-9.every_sessions"),
        ([ScheduleRule("phq-9", every_sessions=53)], "phq-9.every_sessions"),
        ([ScheduleRule("phq-9", every_days=0)], "phq-9.every_days"),
        ([ScheduleRule("phq-9", every_days=366)], "phq-9.every_days"),
        ([ScheduleRule("phq-9")], "phq-9.instrument"),
        ([ScheduleRule("phq-9", at_admission=True)] * 2, "phq-9.instrument"),
        ([], "schedule"),
    ],
)
def test_bad_schedules_get_field_errors_and_store_nothing(
    theo: User, episode: Episode, rows: list[ScheduleRule], field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        schedule_set(actor=theo, episode=episode, rows=rows)
    assert field in exc.value.field_errors
    assert not MeasureSchedule.objects.exists()


def test_outsider_cannot_change_a_schedule(tess: User, episode: Episode) -> None:
    with pytest.raises(Forbidden):
        schedule_set(actor=tess, episode=episode, rows=PHQ9_ONLY)
    assert not MeasureSchedule.objects.exists()
    denied = AuditEvent.objects.filter(client_id=episode.client.public_id).latest("id")
    assert denied.outcome == "denied"


# --- the page -----------------------------------------------------------------------------------


def _post(rules: dict[str, str], based_on: int) -> dict[str, str]:
    return {"based_on": str(based_on), **rules}


def test_page_shows_the_default_then_saves_a_schedule(
    theo: User, episode: Episode, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)
    url = f"/episodes/{episode.public_id}/measures/schedule/"
    page = http.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "following the program default" in html
    # Admitted 35 days ago, nothing given: every default measure is past its intake window.
    assert html.count('data-state="overdue"') == 4
    saved = http.post(
        url,
        _post(
            {
                "phq-9__at_admission": "on",
                "phq-9__every_sessions": "4",
                "audit-c__every_days": "30",
            },
            0,
        ),
    )
    assert saved.status_code == 302
    active = MeasureSchedule.objects.filter(episode=episode, active=True)
    assert {(r.instrument, r.every_sessions, r.every_days) for r in active} == {
        ("phq-9", 4, None),
        ("audit-c", None, 30),
    }
    html = http.get(url).content.decode()
    assert "version 1" in html and 'data-testid="due-audit-c"' in html


def test_page_refuses_a_stale_save_with_409(
    theo: User, episode: Episode, login_as: Callable[[User], HttpClient]
) -> None:
    schedule_set(actor=theo, episode=episode, rows=PHQ9_ONLY, based_on=0)
    response = login_as(theo).post(
        f"/episodes/{episode.public_id}/measures/schedule/",
        _post({"gad-7__every_days": "14"}, 0),
    )
    assert response.status_code == 409
    assert "Someone else changed this schedule" in response.content.decode()
    assert MeasureSchedule.objects.filter(active=True).get().instrument == "phq-9"


def test_page_names_the_bad_field(
    theo: User, episode: Episode, login_as: Callable[[User], HttpClient]
) -> None:
    response = login_as(theo).post(
        f"/episodes/{episode.public_id}/measures/schedule/",
        _post({"phq-9__every_sessions": "0"}, 0),
    )
    assert response.status_code == 400
    assert response.context["form"].errors["phq-9__every_sessions"]
    empty = login_as(theo).post(f"/episodes/{episode.public_id}/measures/schedule/", _post({}, 0))
    assert empty.status_code == 400 and "Choose at least one measure." in empty.content.decode()
    assert not MeasureSchedule.objects.exists()


@pytest.mark.parametrize(("persona", "status"), [("tess", 403), ("remy", 403), ("oscar", 404)])
def test_outsiders_cannot_open_or_change_the_schedule_page(
    request: pytest.FixtureRequest,
    persona: str,
    status: int,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(request.getfixturevalue(persona))
    url = f"/episodes/{episode.public_id}/measures/schedule/"
    for response in (
        http.get(url),
        http.post(url, _post({"phq-9__at_admission": "on"}, 0)),
    ):
        assert response.status_code == status
        assert b"Testbrook" not in response.content
    assert HttpClient().get(url).status_code == 302
    assert not MeasureSchedule.objects.exists()


# --- the overdue sweep --------------------------------------------------------------------------


def test_overdue_measure_raises_one_alert_audited(theo: User, episode: Episode) -> None:
    schedule_set(actor=theo, episode=episode, rows=PHQ9_ONLY, based_on=0)
    result = overdue_sweep()
    assert (result.episodes, result.overdue, result.raised) == (1, 1, 1)
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.OVERDUE_MEASURE and alert.dedupe_key == "overdue_measure:phq-9"
    assert alert.clinician == theo and alert.episode == episode and not alert.immediate
    assert "overdue since" in alert.detail
    event = AuditEvent.objects.filter(resource_id=str(alert.public_id)).get()
    assert event.actor_email == SWEEP_ACTOR and event.action == "create"


def test_sweeping_twice_still_one_alert(theo: User, episode: Episode) -> None:
    overdue_sweep()
    assert Alert.objects.count() == 4  # the program default: PHQ-9, GAD-7, AUDIT, DAST-10
    again = overdue_sweep()
    assert (again.overdue, again.raised) == (4, 0)
    assert Alert.objects.count() == 4
    assert set(Alert.objects.values_list("dedupe_key", flat=True)) == {
        "overdue_measure:phq-9",
        "overdue_measure:gad-7",
        "overdue_measure:audit",
        "overdue_measure:dast-10",
    }


def test_measured_means_no_alert(theo: User, client_record: Client, episode: Episode) -> None:
    schedule_set(actor=theo, episode=episode, rows=PHQ9_ONLY, based_on=0)
    services.administer(
        actor=theo,
        client=client_record,
        instrument_code="phq-9",
        answers={str(n): "0" for n in range(1, 10)},
    )
    for days in (21, 14, 7):  # three sessions since: the fourth is not yet due
        _appointment(client_record, theo, -days, "attended")
    assert overdue_sweep().overdue == 0
    assert not Alert.objects.filter(kind=AlertKind.OVERDUE_MEASURE).exists()


def test_fourth_session_without_the_measure_is_overdue(
    theo: User, client_record: Client, episode: Episode
) -> None:
    schedule_set(actor=theo, episode=episode, rows=PHQ9_ONLY, based_on=0)
    given(episode, "phq-9", 35)
    for days in (28, 21, 14, 7):
        _appointment(client_record, theo, -days, "attended")
    assert overdue_sweep().raised == 1
    assert Alert.objects.get().dedupe_key == "overdue_measure:phq-9"


def test_a_resolved_alert_lets_a_later_sweep_raise_again(theo: User, episode: Episode) -> None:
    schedule_set(actor=theo, episode=episode, rows=PHQ9_ONLY, based_on=0)
    overdue_sweep()
    alert = Alert.objects.get()
    services.alert_resolve(actor=theo, alert=alert, version=alert.version, note="Client declined.")
    assert overdue_sweep().raised == 1
    assert Alert.objects.exclude(status=AlertStatus.RESOLVED).count() == 1


def test_only_open_admitted_episodes_are_swept(
    theo: User, client_record: Client, northside: object
) -> None:
    from tests.test_caseload_chart import _client

    _episode(client_record, theo, status="discharged")
    _episode(_client(client_record.program, 2), theo, status="referred")
    assert overdue_sweep().episodes == 0
    assert not Alert.objects.exists()


def test_sweep_command_reports_and_is_idempotent(theo: User, episode: Episode) -> None:
    out = StringIO()
    call_command("measures-sweep", "--today", date.today().isoformat(), stdout=out)
    assert "1 open episodes checked, 4 overdue measures, 4 new alerts." in out.getvalue()
    again = StringIO()
    call_command("measures-sweep", stdout=again)
    assert "0 new alerts" in again.getvalue()
    assert Alert.objects.count() == 4
