"""Administrations (in session and by single-use link), FHIR output, alerts and their life
cycle, the inbox — through services and pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import DatabaseError, transaction
from django.test import Client as HttpClient
from django.utils import timezone
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iptcare.core.models import Organisation, Program
from iptcare.measures import alerts, engine, services
from iptcare.measures.models import Administration, Alert, AlertKind, MeasureLink, Mode
from iptcare.scheduling import services as scheduling
from iptcare.scheduling.models import Appointment
from tests.test_caseload_chart import _episode

PHQ9_ZERO = {str(n): "0" for n in range(1, 10)}


def _phq9(total: int, item9: str = "0") -> dict[str, str]:
    """Answers summing to ``total`` over items 1-8 (each 0-3), item 9 as given."""
    answers, left = {}, total - int(item9)
    for n in range(1, 9):
        answers[str(n)] = str(min(3, max(left, 0)))
        left -= int(answers[str(n)])
    answers["9"] = item9
    return answers


@pytest.fixture
def episode(client_record: Client, theo: User) -> Episode:
    return _episode(client_record, theo)


@pytest.fixture
def sam(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    return make_user(
        "sam@example.org",
        organisation=org,
        roles=(Role.CLINICAL_SUPERVISOR,),
        programs=(northside,),
    )


def test_in_session_administration_is_scored_stored_and_fhir_valid(
    theo: User, client_record: Client, episode: Episode
) -> None:
    a = services.administer(
        actor=theo, client=client_record, instrument_code="phq-9", answers=_phq9(12)
    )
    assert a.total == 12 and a.band == "moderate" and a.complete and a.mode == Mode.IN_SESSION
    assert a.episode == episode and a.administered_by == theo
    qr = QuestionnaireResponse.model_validate(a.questionnaire_response)
    assert qr.status == "completed" and len(qr.item or []) == 9
    assert a.questionnaire_response["questionnaire"] == "http://loinc.org/q/44249-1"
    (total,) = [Observation.model_validate(o) for o in a.observations]
    assert total.code.coding is not None and total.code.coding[0].code == "44261-6"
    assert total.valueQuantity is not None and total.valueQuantity.value == 12
    event = AuditEvent.objects.filter(client_id=client_record.public_id).latest("id")
    assert event.action == "create" and event.outcome == "success"


def test_invalid_answers_store_nothing(theo: User, client_record: Client) -> None:
    with pytest.raises(engine.InvalidAnswers) as exc:
        services.administer(
            actor=theo, client=client_record, instrument_code="phq-9", answers={"1": "9"}
        )
    assert set(exc.value.errors) == {"1"}
    assert Administration.objects.count() == 0


def test_outsider_cannot_administer(tess: User, client_record: Client) -> None:
    with pytest.raises((Forbidden, NotFound)):
        services.administer(
            actor=tess, client=client_record, instrument_code="phq-9", answers=PHQ9_ZERO
        )
    assert Administration.objects.count() == 0
    assert AuditEvent.objects.filter(outcome="denied").exists()


def test_administrations_are_never_edited_or_deleted(theo: User, client_record: Client) -> None:
    a = services.administer(
        actor=theo,
        client=client_record,
        instrument_code="gad-7",
        answers={str(n): "1" for n in range(1, 8)},
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        Administration.objects.filter(pk=a.pk).update(total=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        Administration.objects.filter(pk=a.pk).delete()


def test_item_9_raises_an_immediate_safety_alert_even_with_a_minimal_total(
    theo: User, client_record: Client, episode: Episode
) -> None:
    a = services.administer(
        actor=theo, client=client_record, instrument_code="phq-9", answers=_phq9(1, item9="1")
    )
    assert a.total == 1 and a.band == "minimal"
    (alert,) = Alert.objects.filter(client=client_record)
    assert alert.kind == AlertKind.SAFETY and alert.immediate and alert.status == "open"
    assert alert.clinician == theo and alert.source_id == str(a.public_id)


def test_item_9_at_zero_raises_nothing(theo: User, client_record: Client, episode: Episode) -> None:
    services.administer(
        actor=theo, client=client_record, instrument_code="phq-9", answers=_phq9(20)
    )
    assert not Alert.objects.exists()


@pytest.mark.parametrize(("later", "kind"), [(11, None), (12, AlertKind.DETERIORATION)])
def test_reliable_deterioration_at_its_threshold(
    theo: User, client_record: Client, episode: Episode, later: int, kind: str | None
) -> None:
    # PHQ-9 reliable change: 6 points (the instrument file's threshold and source).
    services.administer(actor=theo, client=client_record, instrument_code="phq-9", answers=_phq9(6))
    services.administer(
        actor=theo, client=client_record, instrument_code="phq-9", answers=_phq9(later)
    )
    assert [a.kind for a in Alert.objects.all()] == ([kind] if kind else [])


@pytest.mark.parametrize(
    ("attended", "latest", "flagged"),
    [(7, 14, False), (8, 14, True), (8, 8, False)],
)
def test_not_on_track_by_the_configured_session(attended: int, latest: int, flagged: bool) -> None:
    phq9 = engine.get("phq-9")
    finding = alerts.not_on_track_finding(phq9, 14, latest, attended, 8)
    assert (finding is not None) == flagged


def test_two_consecutive_no_shows_raise_an_alert(
    theo: User, client_record: Client, episode: Episode
) -> None:
    def appointment(days_ago: int) -> Appointment:
        return Appointment.objects.create(
            organisation=client_record.organisation,
            program=client_record.program,
            client=client_record,
            clinician=theo,
            kind="individual",
            starts_at=timezone.now() - timedelta(days=days_ago),
            duration_minutes=50,
        )

    first, second = appointment(14), appointment(7)
    scheduling.appointment_record_attendance(actor=theo, appointment=first, status="no_show")
    assert not Alert.objects.exists()
    scheduling.appointment_record_attendance(actor=theo, appointment=second, status="no_show")
    (alert,) = Alert.objects.all()
    assert alert.kind == AlertKind.NO_SHOWS and alert.title == "2 consecutive no-shows"


def test_no_show_rule_table() -> None:
    assert alerts.no_show_finding(["no_show"]) is None
    assert alerts.no_show_finding(["no_show", "attended", "no_show"]) is None
    assert alerts.no_show_finding(["no_show", "no_show", "attended"]) is not None
    assert alerts.no_show_finding([]) is None


# --- links --------------------------------------------------------------------------------------


def test_link_is_emailed_without_clinical_content_used_once_and_audited(
    theo: User,
    client_record: Client,
    episode: Episode,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # the email waits for the commit
        issued = services.link_issue(
            actor=theo,
            client=client_record,
            instrument_code="phq-9",
            email="wren@example.org",
            base_url="http://testserver/",
        )
    assert issued.email.sent
    (message,) = mail.outbox
    text = f"{message.subject} {message.body}"
    for clinical in ("PHQ", "depress", "Testbrook", "Wren", "substance"):
        assert clinical.lower() not in text.lower()
    assert issued.path in message.body
    assert issued.secret not in MeasureLink.objects.get().secret_hash

    http = HttpClient()
    page = http.get(issued.path)
    assert page.status_code == 200 and "Little interest or pleasure" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    form = {f"item_{n}": v for n, v in _phq9(3, item9="1").items()}
    done = http.post(issued.path, form)
    assert done.status_code == 200 and 'data-testid="crisis"' in done.content.decode()
    a = Administration.objects.get()
    assert a.mode == Mode.LINK and a.administered_by is None and a.total == 3
    assert MeasureLink.objects.get().administration == a
    assert AuditEvent.objects.filter(
        resource_type="administration", resource_id=str(a.public_id)
    ).exists()
    assert http.get(issued.path).status_code == 404
    assert http.post(issued.path, form).status_code == 404
    assert Administration.objects.count() == 1


def test_a_link_page_shows_no_navigation_or_staff_name_even_to_a_signed_in_user(
    theo: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
    settings: Any,
) -> None:
    """Whoever holds a link (the client on their phone, or a clinician who opens it in their
    own browser) gets the same page: the demo banner, the questionnaire, the thank-you."""
    settings.DEMO = True
    issued = services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://testserver/"
    )
    http = login_as(theo)
    home = http.get("/").content.decode()
    assert 'href="/caseload/"' in home and 'class="demo-banner"' in home  # signed in, nav
    form_page = http.get(issued.path).content.decode()
    form = {f"item_{n}": v for n, v in _phq9(3).items()}
    done = http.post(issued.path, form)
    assert done.status_code == 200 and "Thank you" in done.content.decode()
    for html in (form_page, done.content.decode()):
        assert 'href="/caseload/"' not in html and theo.full_name not in html
        assert "Log out" not in html and "app.css" in html
        assert 'class="demo-banner"' in html
    assert Administration.objects.get().mode == Mode.LINK


def test_expired_link_is_refused(theo: User, client_record: Client) -> None:
    issued = services.link_issue(
        actor=theo, client=client_record, instrument_code="gad-7", hours=2, base_url="http://t/"
    )
    with time_machine.travel(timezone.now() + timedelta(hours=2, seconds=1)):
        assert HttpClient().get(issued.path).status_code == 404
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=59)):
        assert HttpClient().get(issued.path).status_code == 200


def test_bad_link_answers_change_nothing_and_keep_the_link(
    theo: User, client_record: Client
) -> None:
    issued = services.link_issue(
        actor=theo, client=client_record, instrument_code="gad-7", base_url="http://t/"
    )
    response = HttpClient().post(issued.path, {"item_1": "7"})
    assert response.status_code == 400
    assert Administration.objects.count() == 0
    assert MeasureLink.objects.get().used_at is None


def test_link_issue_refuses_bad_input(theo: User, client_record: Client) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.link_issue(
            actor=theo, client=client_record, instrument_code="nope", hours=0, base_url="x"
        )
    assert set(exc.value.field_errors) == {"instrument", "hours"}
    assert not MeasureLink.objects.exists()


# --- alert life cycle and inbox -----------------------------------------------------------------


def _safety_alert(theo: User, client: Client) -> Alert:
    services.administer(actor=theo, client=client, instrument_code="phq-9", answers=_phq9(2, "2"))
    return Alert.objects.get()


def test_safety_alert_needs_an_action_note_and_acknowledgement_before_resolution(
    theo: User, client_record: Client, episode: Episode
) -> None:
    alert = _safety_alert(theo, client_record)
    with pytest.raises(InvalidInput):
        services.alert_acknowledge(actor=theo, alert=alert, version=alert.version, note="  ")
    with pytest.raises(InvalidInput):
        services.alert_resolve(actor=theo, alert=alert, version=alert.version, note="done")
    acked = services.alert_acknowledge(
        actor=theo, alert=alert, version=alert.version, note="Called; safety plan reviewed."
    )
    assert acked.status == "acknowledged" and acked.acknowledged_by == theo
    with pytest.raises(Conflict):
        services.alert_resolve(actor=theo, alert=acked, version=alert.version, note="stale")
    resolved = services.alert_resolve(
        actor=theo, alert=acked, version=acked.version, note="Seen next day; risk low."
    )
    assert resolved.status == "resolved"
    # One event per attempt: what happened (the two refused inputs and the stale version
    # failed and changed nothing; the two steps succeeded). Outside a request the failures are
    # appended at once, after their rollback.
    steps = AuditEvent.objects.filter(resource_type="alert").order_by("id")
    assert [(e.detail["alert"], e.outcome, e.reason.split(";")[0]) for e in steps] == [
        ("acknowledge", "failure", "failed: InvalidInput (422)"),
        ("resolve", "failure", "failed: InvalidInput (422)"),
        ("acknowledge", "success", "Therapist may update clinical_record"),
        ("resolve", "failure", "failed: Conflict (409)"),
        ("resolve", "success", "Therapist may update clinical_record"),
    ]


def test_inbox_for_clinician_supervisor_and_outsider(
    theo: User,
    sam: User,
    tess: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    alert = _safety_alert(theo, client_record)
    mine = login_as(theo).get("/alerts/")
    assert mine.status_code == 200
    assert [a.pk for a in mine.context["inbox"].mine] == [alert.pk]
    supervisor = login_as(sam).get("/alerts/")
    assert [a.pk for a in supervisor.context["inbox"].supervision] == [alert.pk]
    outsider = login_as(tess).get("/alerts/")
    assert outsider.context["inbox"].mine == [] and outsider.context["inbox"].supervision == []
    assert "Testbrook" not in outsider.content.decode()
    assert login_as(tess).get(f"/alerts/{alert.public_id}/").status_code in {403, 404}


def test_alert_page_acknowledge_with_field_error_then_success(
    theo: User, client_record: Client, episode: Episode, login_as: Callable[[User], HttpClient]
) -> None:
    alert = _safety_alert(theo, client_record)
    http = login_as(theo)
    url = f"/alerts/{alert.public_id}/"
    bad = http.post(url, {"version": alert.version, "note": "", "step": "acknowledge"})
    assert bad.status_code == 400 and "This field is required" in bad.content.decode()
    ok = http.post(url, {"version": alert.version, "note": "Phoned client.", "step": "acknowledge"})
    assert ok.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.action_note == "Phoned client."


def test_measures_page_shows_chart_table_and_alerts(
    theo: User, client_record: Client, episode: Episode, login_as: Callable[[User], HttpClient]
) -> None:
    for total in (18, 14, 9):
        services.administer(
            actor=theo, client=client_record, instrument_code="phq-9", answers=_phq9(total)
        )
    page = login_as(theo).get(f"/clients/{client_record.public_id}/measures/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="score"') == 3
    assert 'data-score="18"' in html and 'data-score="9"' in html
    assert 'class="rc-band"' in html and 'class="baseline"' in html
    assert "improved" in html  # 18 -> 9 is a reliable improvement (>= 6 points)


def test_in_session_page_submits_and_reports_incomplete(
    theo: User, client_record: Client, episode: Episode, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)
    url = f"/clients/{client_record.public_id}/measures/gad-7/new/"
    assert http.get(url).status_code == 200
    response = http.post(url, {"item_1": "2", "item_2": "1"}, follow=True)
    assert "incomplete, no total" in response.content.decode()
    a = Administration.objects.get()
    assert a.total is None and not a.complete and a.missing == ["3", "4", "5", "6", "7"]


@pytest.mark.parametrize(
    ("statuses", "run"),
    [
        ([], False),
        (["no_show"], False),
        (["attended", "no_show", "no_show"], True),  # a run that ended still happened
        (["no_show", "attended", "no_show"], False),
        (["late", "no_show", "no_show", "attended"], True),
    ],
)
def test_had_no_show_run(statuses: list[str], run: bool) -> None:
    assert alerts.had_no_show_run(statuses) is run


@pytest.mark.parametrize(
    ("setting", "shown", "absent"),
    [
        ("", "988", None),
        ("Call the fictional Testland crisis line on 0000 000.", "Testland crisis line", "988"),
    ],
)
def test_the_crisis_text_is_the_deployments(
    theo: User,
    client_record: Client,
    episode: Episode,
    settings: Any,
    setting: str,
    shown: str,
    absent: str | None,
) -> None:
    settings.IPTCARE_CRISIS_TEXT = setting
    issued = services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://testserver/"
    )
    form = {f"item_{n}": v for n, v in _phq9(3, item9="1").items()}
    html = HttpClient().post(issued.path, form).content.decode()
    line = html[html.index('data-testid="crisis-line"') :].split("</p>")[0]
    assert shown in line
    if absent is not None:
        assert absent not in line
