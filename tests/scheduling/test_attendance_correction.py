"""Correcting recorded attendance: service rules, history, the no-show alert, page and API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, RecordRevision
from iptcare.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from iptcare.measures.models import Alert, AlertKind
from iptcare.scheduling import services
from iptcare.scheduling.models import Appointment, AppointmentStatus, Modality
from iptcare.scheduling.services import InvalidTransition
from tests.scheduling.conftest import MakeAppointment, reload

S = AppointmentStatus
Login = Callable[[User], HttpClient]
PROBLEM = "application/problem+json"
REASON = "Client was in the room; the wrong row was clicked."


def _row(appointment: Appointment) -> tuple[Any, ...]:
    """Everything a correction may change, as stored."""
    fresh = reload(appointment)
    return (
        fresh.status,
        fresh.modality,
        fresh.version,
        fresh.updated_at,
        fresh.attendance_recorded_by_id,
        fresh.attendance_recorded_at,
    )


def _changes(appointment: Appointment) -> list[AuditEvent]:
    """The appointment's change events (successful writes, not reads), oldest first."""
    return list(
        AuditEvent.objects.filter(
            resource_type="appointment", resource_id=str(appointment.public_id), outcome="success"
        )
        .exclude(action__in=["view", "list"])
        .order_by("id")
    )


@pytest.fixture
def no_show(theo: User, past_appointment: Appointment) -> Appointment:
    """Recorded as a no-show through the service (version 2), so its history has the recording."""
    return services.appointment_record_attendance(
        actor=theo, appointment=past_appointment, status=S.NO_SHOW, version=1
    )


@pytest.fixture
def attended(theo: User, past_appointment: Appointment) -> Appointment:
    return services.appointment_record_attendance(
        actor=theo, appointment=past_appointment, status=S.ATTENDED, version=1
    )


# --- service --------------------------------------------------------------------------------


def test_correct_a_no_show_to_attended(theo: User, nina: User, no_show: Appointment) -> None:
    recorded_at = reload(no_show).attendance_recorded_at
    assert reload(no_show).attendance_recorded_by_id == theo.pk
    done = services.appointment_correct_attendance(
        actor=nina, appointment=no_show, status=S.ATTENDED, reason=REASON, version=2
    )
    fresh = reload(no_show)
    assert (fresh.status, fresh.modality, fresh.version) == (S.ATTENDED, Modality.IPT, 3)
    assert done.version == 3
    assert fresh.attendance_recorded_by_id == nina.pk
    assert fresh.attendance_recorded_at is not None and recorded_at is not None
    assert fresh.attendance_recorded_at > recorded_at


def test_correct_attended_to_a_no_show(theo: User, attended: Appointment) -> None:
    services.appointment_correct_attendance(
        actor=theo, appointment=attended, status=S.NO_SHOW, reason=REASON, version=2
    )
    fresh = reload(attended)
    assert (fresh.status, fresh.version) == (S.NO_SHOW, 3)


def test_correct_only_the_modality(theo: User, attended: Appointment) -> None:
    services.appointment_correct_attendance(
        actor=theo,
        appointment=attended,
        status=S.ATTENDED,
        modality=Modality.CBT,
        reason="It was a CBT session.",
        version=2,
    )
    assert (reload(attended).status, reload(attended).modality) == (S.ATTENDED, Modality.CBT)


def test_history_keeps_the_recording_and_the_correction_with_its_reason(
    theo: User, nina: User, no_show: Appointment
) -> None:
    services.appointment_correct_attendance(
        actor=nina, appointment=no_show, status=S.LATE, reason=f"  {REASON}  ", version=2
    )
    changes = _changes(no_show)
    assert [(e.action, e.reason) for e in changes] == [
        ("update", "Therapist may update clinical_record"),
        ("update", "Nurse may update clinical_record"),
    ]
    recording, correction = changes
    assert recording.actor_id == theo.public_id and correction.actor_id == nina.public_id
    changed = ["attendance_recorded_at", "attendance_recorded_by", "status"]
    assert [e.detail for e in changes] == [
        {"appointment": "record attendance", "status": "no_show", "version": 2, "changed": changed},
        {"appointment": "correct attendance", "status": "late", "version": 3, "changed": changed},
    ]
    # The record's history holds each state before a change, and the correction's own words;
    # the audit trail holds neither.
    history = list(RecordRevision.objects.filter(resource_id=no_show.public_id).order_by("version"))
    assert [(r.version, r.snapshot["status"], r.reason, r.changed_by_id) for r in history] == [
        (1, "scheduled", "", theo.pk),
        (2, "no_show", REASON, nina.pk),
    ]
    # Who recorded the outcome that was corrected stays in the history.
    assert history[1].snapshot["attendance_recorded_by"] == str(theo.public_id)
    assert all(REASON not in json.dumps([e.reason, e.detail]) for e in _changes(no_show))
    assert correction.client_id == no_show.client.public_id


@pytest.mark.parametrize("start", [S.SCHEDULED, S.CANCELLED_CLIENT, S.CANCELLED_PROGRAM])
def test_no_correction_when_attendance_was_never_recorded(
    theo: User, client_record: Client, make_appointment: MakeAppointment, start: str
) -> None:
    appointment = make_appointment(client_record, timezone.now() - timedelta(hours=3), status=start)
    before = _row(appointment)
    with pytest.raises(InvalidTransition) as exc:
        services.appointment_correct_attendance(
            actor=theo, appointment=appointment, status=S.ATTENDED, reason=REASON, version=1
        )
    assert exc.value.status == 409
    assert "status" in exc.value.field_errors
    assert _row(appointment) == before
    assert _changes(appointment) == []


@pytest.mark.parametrize("reason", ["", "   \n ", "x" * 301])
def test_a_correction_needs_a_reason(theo: User, no_show: Appointment, reason: str) -> None:
    before = _row(no_show)
    with pytest.raises(InvalidInput) as exc:
        services.appointment_correct_attendance(
            actor=theo, appointment=no_show, status=S.ATTENDED, reason=reason, version=2
        )
    assert list(exc.value.field_errors) == ["reason"]
    assert _row(no_show) == before
    assert len(_changes(no_show)) == 1


def test_a_reason_of_the_maximum_length_is_accepted(theo: User, no_show: Appointment) -> None:
    services.appointment_correct_attendance(
        actor=theo, appointment=no_show, status=S.ATTENDED, reason="x" * 300, version=2
    )
    assert reload(no_show).status == S.ATTENDED


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (S.SCHEDULED, "Choose attended, attended late or no-show."),
        (S.CANCELLED_CLIENT, "Choose attended, attended late or no-show."),
        ("maybe", "Choose attended, attended late or no-show."),
        (S.NO_SHOW, "This is what is recorded already: choose another outcome or modality."),
    ],
)
def test_a_correction_needs_another_valid_outcome(
    theo: User, no_show: Appointment, status: str, message: str
) -> None:
    before = _row(no_show)
    with pytest.raises(InvalidInput) as exc:
        services.appointment_correct_attendance(
            actor=theo, appointment=no_show, status=status, reason=REASON, version=2
        )
    assert exc.value.field_errors == {"status": [message]}
    assert _row(no_show) == before
    assert len(_changes(no_show)) == 1


def test_the_same_outcome_and_modality_is_no_correction(theo: User, attended: Appointment) -> None:
    before = _row(attended)
    with pytest.raises(InvalidInput) as exc:
        services.appointment_correct_attendance(
            actor=theo,
            appointment=attended,
            status=S.ATTENDED,
            modality=Modality.IPT,
            reason=REASON,
            version=2,
        )
    assert "status" in exc.value.field_errors
    assert _row(attended) == before


def test_a_correction_to_attended_needs_a_modality_when_none_is_known(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    appointment = make_appointment(client_record, timezone.now() - timedelta(hours=1), modality="")
    services.appointment_record_attendance(actor=theo, appointment=appointment, status=S.NO_SHOW)
    before = _row(appointment)
    with pytest.raises(InvalidInput) as exc:
        services.appointment_correct_attendance(
            actor=theo, appointment=appointment, status=S.ATTENDED, reason=REASON, version=2
        )
    assert "modality" in exc.value.field_errors
    assert _row(appointment) == before
    services.appointment_correct_attendance(
        actor=theo,
        appointment=appointment,
        status=S.ATTENDED,
        modality=Modality.MI,
        reason=REASON,
        version=2,
    )
    assert reload(appointment).modality == Modality.MI


def test_a_stale_correction_is_a_conflict_and_changes_nothing(
    theo: User, no_show: Appointment
) -> None:
    before = _row(no_show)
    with pytest.raises(Conflict):
        services.appointment_correct_attendance(
            actor=theo, appointment=no_show, status=S.ATTENDED, reason=REASON, version=1
        )
    assert _row(no_show) == before
    assert len(_changes(no_show)) == 1


@pytest.mark.parametrize(
    ("persona", "error"), [("tess", Forbidden), ("remy", Forbidden), ("oscar", NotFound)]
)
def test_outsiders_cannot_correct_and_the_refusal_is_audited(
    request: pytest.FixtureRequest, no_show: Appointment, persona: str, error: type[DomainError]
) -> None:
    actor: User = request.getfixturevalue(persona)
    before = _row(no_show)
    with pytest.raises(error):
        services.appointment_correct_attendance(
            actor=actor, appointment=no_show, status=S.ATTENDED, reason=REASON, version=2
        )
    assert _row(no_show) == before
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None and event.outcome == "denied" and event.actor_id == actor.public_id


def test_a_correction_to_a_second_consecutive_no_show_raises_the_alert(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    earlier = make_appointment(client_record, timezone.now() - timedelta(days=14))
    later = make_appointment(client_record, timezone.now() - timedelta(days=7))
    services.appointment_record_attendance(actor=theo, appointment=earlier, status=S.NO_SHOW)
    services.appointment_record_attendance(actor=theo, appointment=later, status=S.ATTENDED)
    assert not Alert.objects.exists()
    services.appointment_correct_attendance(
        actor=theo, appointment=later, status=S.NO_SHOW, reason=REASON, version=2
    )
    (alert,) = Alert.objects.all()
    assert (alert.kind, alert.title, alert.client_id) == (
        AlertKind.NO_SHOWS,
        "2 consecutive no-shows",
        client_record.pk,
    )


def test_a_correction_to_a_single_no_show_raises_no_alert(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    earlier = make_appointment(client_record, timezone.now() - timedelta(days=14))
    later = make_appointment(client_record, timezone.now() - timedelta(days=7))
    services.appointment_record_attendance(actor=theo, appointment=earlier, status=S.ATTENDED)
    services.appointment_record_attendance(actor=theo, appointment=later, status=S.LATE)
    services.appointment_correct_attendance(
        actor=theo, appointment=later, status=S.NO_SHOW, reason=REASON, version=2
    )
    assert reload(later).status == S.NO_SHOW
    assert not Alert.objects.exists()  # one no-show is not a run


def test_correcting_a_no_show_away_resolves_the_alert_it_raised(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    first, second, third = (
        make_appointment(client_record, timezone.now() - timedelta(days=d)) for d in (21, 14, 7)
    )
    for a in (first, second, third):
        services.appointment_record_attendance(actor=theo, appointment=a, status=S.NO_SHOW)
    (alert,) = Alert.objects.all()
    # The newest no-show corrected: the two before it still make a run, the alert stays open.
    services.appointment_correct_attendance(
        actor=theo, appointment=third, status=S.ATTENDED, reason=REASON, version=2
    )
    alert.refresh_from_db()
    assert alert.status == "open"
    # Now no run is left (newest first: attended, attended, no-show): resolved, audited.
    services.appointment_correct_attendance(
        actor=theo, appointment=second, status=S.ATTENDED, reason="client came", version=2
    )
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by) == ("resolved", theo)
    assert "client came" in alert.resolution_note
    # One event for the correction, naming the resolution it made; the note stays in the alert.
    correction = _changes(second)[-1]
    [resolution] = correction.detail["also"]
    assert (resolution["action"], resolution["resource_type"], resolution["resource_id"]) == (
        "update",
        "alert",
        str(alert.public_id),
    )
    assert resolution["alert"] == "resolve"
    assert "client came" not in json.dumps(correction.detail)
    assert not AuditEvent.objects.filter(resource_type="alert").exists()


def test_an_old_run_keeps_its_alert_however_many_sessions_followed(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    """The run that raised the alert lies far behind the latest outcomes: correcting a later,
    unrelated no-show must not close it."""
    days = [80, 75, *range(70, 15, -5), 7]  # 2 no-shows, 11 attended, 1 no-show
    now = timezone.now()
    appointments = [make_appointment(client_record, now - timedelta(days=d)) for d in days]
    for n, a in enumerate(appointments):
        status = S.NO_SHOW if n < 2 or n == len(appointments) - 1 else S.ATTENDED
        services.appointment_record_attendance(actor=theo, appointment=a, status=status)
    (alert,) = Alert.objects.all()
    services.appointment_correct_attendance(
        actor=theo, appointment=appointments[-1], status=S.ATTENDED, reason=REASON, version=2
    )
    alert.refresh_from_db()
    assert alert.status == "open"


# --- page -----------------------------------------------------------------------------------


def _page(a: Appointment) -> str:
    return f"/appointments/{a.public_id}/attendance/"


def _correct_url(a: Appointment) -> str:
    return f"/appointments/{a.public_id}/attendance/correct/"


def test_the_page_offers_the_correction_only_once_attendance_is_recorded(
    theo: User,
    client_record: Client,
    past_appointment: Appointment,
    make_appointment: MakeAppointment,
    login_as: Login,
) -> None:
    http = login_as(theo)
    scheduled = http.get(_page(past_appointment)).content.decode()
    assert "Correct attendance" not in scheduled and _correct_url(past_appointment) not in scheduled
    cancelled = make_appointment(
        client_record, timezone.now() - timedelta(days=1), status=S.CANCELLED_CLIENT
    )
    assert "Correct attendance" not in http.get(_page(cancelled)).content.decode()
    services.appointment_record_attendance(
        actor=theo, appointment=past_appointment, status=S.NO_SHOW
    )
    response = http.get(_page(past_appointment))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Correct attendance" in text and f'action="{_correct_url(past_appointment)}"' in text
    assert "Record attendance or a cancellation" not in text
    assert response.context["correction_form"]["version"].value() == 2


def test_the_correction_page_flow(theo: User, no_show: Appointment, login_as: Login) -> None:
    http = login_as(theo)
    assert http.get(_page(no_show)).status_code == 200
    response = http.post(
        _correct_url(no_show),
        {"status": "attended", "modality": "", "reason": REASON, "version": 2},
        follow=True,
    )
    assert response.redirect_chain == [(f"/clients/{no_show.client.public_id}/appointments/", 302)]
    assert "Attendance corrected." in response.content.decode()
    fresh = reload(no_show)
    assert (fresh.status, fresh.version) == (S.ATTENDED, 3)
    assert _changes(no_show)[-1].detail["status"] == "attended"
    shown = http.get(_page(no_show)).content.decode()
    assert "Attended" in shown and "Correct attendance" in shown


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "    "}, "reason"),
        ({"reason": "x" * 301}, "reason"),
        ({"status": "cancelled_client"}, "status"),
        ({"status": "no_show"}, "status"),  # what is recorded already
        ({"modality": "hypnosis"}, "modality"),
        ({"version": ""}, "version"),
    ],
)
def test_the_correction_form_shows_field_errors_and_changes_nothing(
    theo: User, no_show: Appointment, login_as: Login, change: dict[str, str], field: str
) -> None:
    data = {"status": "attended", "modality": "", "reason": REASON, "version": "2"}
    data.update(change)
    before = _row(no_show)
    response = login_as(theo).post(_correct_url(no_show), data)
    assert response.status_code == 400
    assert response.context["correction_form"].errors[field]
    shown = 'class="form-errors"' if field == "version" else 'class="field-error"'
    assert shown in response.content.decode()
    assert _row(no_show) == before
    assert len(_changes(no_show)) == 1


def test_the_correction_form_refuses_an_appointment_never_recorded(
    theo: User, past_appointment: Appointment, login_as: Login
) -> None:
    before = _row(past_appointment)
    response = login_as(theo).post(
        _correct_url(past_appointment), {"status": "attended", "reason": REASON, "version": 1}
    )
    assert response.status_code == 400
    assert response.context["correction_form"].errors["status"]
    assert _row(past_appointment) == before


def test_a_stale_correction_form_shows_the_conflict_and_changes_nothing(
    theo: User, nina: User, no_show: Appointment, login_as: Login
) -> None:
    # nina corrects first; theo's form still carries version 2.
    services.appointment_correct_attendance(
        actor=nina, appointment=no_show, status=S.LATE, reason=REASON, version=2
    )
    before = _row(no_show)
    response = login_as(theo).post(
        _correct_url(no_show), {"status": "attended", "reason": REASON, "version": 2}
    )
    assert response.status_code == 409
    assert "Someone else changed this appointment" in response.content.decode()
    assert _row(no_show) == before


def test_the_correction_url_takes_only_post(
    theo: User, no_show: Appointment, login_as: Login
) -> None:
    assert login_as(theo).get(_correct_url(no_show)).status_code == 405


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_refused_on_the_correction_page_and_api(
    request: pytest.FixtureRequest, no_show: Appointment, login_as: Login, persona: str
) -> None:
    http = login_as(request.getfixturevalue(persona))
    before = _row(no_show)
    body = {"status": "attended", "reason": REASON, "version": 2}
    page = http.post(_correct_url(no_show), body)
    api = http.post(
        f"/api/v1/appointments/{no_show.public_id}/attendance-correction",
        data=json.dumps(body),
        content_type="application/json",
    )
    for response in (page, api):
        assert response.status_code in {403, 404}
        assert "Testbrook" not in response.content.decode()
    assert _row(no_show) == before
    assert len(_changes(no_show)) == 1


# --- API ------------------------------------------------------------------------------------


def _api(a: Appointment) -> str:
    return f"/api/v1/appointments/{a.public_id}/attendance-correction"


def _post(http: HttpClient, url: str, body: dict[str, Any]) -> Any:
    return http.post(url, data=json.dumps(body), content_type="application/json")


def test_correct_attendance_over_the_api(theo: User, no_show: Appointment, login_as: Login) -> None:
    response = _post(
        login_as(theo),
        _api(no_show),
        {"status": "late", "modality": "cbt", "reason": REASON, "version": 2},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["modality"], body["version"]) == ("late", "cbt", 3)
    assert body["id"] == str(no_show.public_id)
    assert (reload(no_show).status, reload(no_show).modality) == (S.LATE, Modality.CBT)
    assert _changes(no_show)[-1].detail["status"] == "late"
    assert RecordRevision.objects.get(resource_id=no_show.public_id, version=2).reason == REASON


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),  # passes the schema, refused by the service
        ({"reason": "x" * 301}, "reason"),
        ({"status": "cancelled_client"}, "status"),
        ({"status": "no_show"}, "status"),  # what is recorded already
        ({"modality": "hypnosis"}, "modality"),
        ({"version": None}, "version"),
    ],
)
def test_bad_correction_is_422_with_field_errors_and_changes_nothing(
    theo: User, no_show: Appointment, login_as: Login, change: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {"status": "attended", "reason": REASON, "version": 2}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    before = _row(no_show)
    response = _post(login_as(theo), _api(no_show), body)
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert field in {e["field"] for e in response.json()["errors"]}
    assert _row(no_show) == before


def test_stale_correction_over_the_api_is_409(
    theo: User, no_show: Appointment, login_as: Login
) -> None:
    before = _row(no_show)
    response = _post(
        login_as(theo), _api(no_show), {"status": "attended", "reason": REASON, "version": 1}
    )
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    assert response.json()["title"] == "Conflict"
    assert _row(no_show) == before


def test_correcting_unrecorded_attendance_over_the_api_is_refused(
    theo: User, past_appointment: Appointment, login_as: Login
) -> None:
    before = _row(past_appointment)
    response = _post(
        login_as(theo),
        _api(past_appointment),
        {"status": "attended", "reason": REASON, "version": 1},
    )
    assert response.status_code == 409
    assert response.json()["title"] == "Invalid transition"
    assert _row(past_appointment) == before


def test_correcting_an_unknown_appointment_is_404(theo: User, login_as: Login) -> None:
    response = _post(
        login_as(theo),
        "/api/v1/appointments/00000000-0000-0000-0000-000000000000/attendance-correction",
        {"status": "attended", "reason": REASON, "version": 1},
    )
    assert response.status_code == 404
