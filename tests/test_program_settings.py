"""Administrators set a program's IPT phase boundaries and plan review interval."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.core.errors import Forbidden, InvalidInput
from iptcare.core.models import Program
from iptcare.ipt.models import PhaseBoundaries
from iptcare.measures.models import MeasureSettings
from iptcare.measures.program_settings import measure_settings_update, not_on_track_session
from iptcare.plans.models import PlanSettings
from tests.helpers import audit_events_after, last_audit_id

SETTINGS = {
    "initial_sessions": 4,
    "termination_sessions": 2,
    "review_interval_days": 60,
    "not_on_track_session": 10,
}


def test_admin_sets_program_settings(
    alice: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(alice)
    assert f"/programs/{northside.public_id}/settings/".encode() in http.get("/").content
    url = f"/programs/{northside.public_id}/settings/"
    page = http.get(url)
    assert page.status_code == 200
    assert page.context["form"].initial["not_on_track_session"] == 8  # the deployment default
    response = http.post(
        url,
        {
            "initial_sessions": 4,
            "termination_sessions": 2,
            "review_interval_days": 60,
            "not_on_track_session": 12,
        },
    )
    assert response.status_code == 302
    bounds = PhaseBoundaries.objects.get(program=northside)
    assert (bounds.initial_sessions, bounds.termination_sessions) == (4, 2)
    assert PlanSettings.objects.get(program=northside).review_interval_days == 60
    assert MeasureSettings.objects.get(program=northside).not_on_track_session == 12
    # The page's save is one write, with one event.
    assert (
        AuditEvent.objects.filter(
            actor_id=alice.public_id, action="update", data_category="organisation"
        ).count()
        == 1
    )
    assert http.get(url).context["form"].initial["not_on_track_session"] == 12


def test_saving_the_settings_leaves_one_success_event(
    alice: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(alice)
    url = f"/programs/{northside.public_id}/settings/"
    before = last_audit_id()
    assert http.post(url, SETTINGS).status_code == 302
    # The page's read of the settings it showed is not a second event: the write names it.
    (event,) = audit_events_after(before)
    decision = decide(
        alice, Action.UPDATE, northside, DataCategory.ORGANISATION, Purpose.ADMINISTRATION
    )
    assert (event.action, event.outcome, event.data_category) == (
        "update",
        "success",
        "organisation",
    )
    assert (event.actor_role, event.reason) == (decision.role, decision.reason)
    assert (event.resource_type, event.resource_id) == ("program", str(northside.public_id))
    assert event.detail["of"] == "program_settings"


def test_bad_settings_get_field_errors_and_change_nothing(
    alice: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    response = login_as(alice).post(
        f"/programs/{northside.public_id}/settings/",
        {
            "initial_sessions": 0,
            "termination_sessions": 9,
            "review_interval_days": 3,
            "not_on_track_session": 1,
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("field-error") == 4
    assert not PhaseBoundaries.objects.exists() and not PlanSettings.objects.exists()
    assert not MeasureSettings.objects.exists()


def test_the_settings_page_saves_all_or_nothing(
    alice: User,
    northside: Program,
    login_as: Callable[[User], HttpClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value the last service refuses (here the form's own range check is lifted, as when
    the two drift apart) leaves the settings saved before it unsaved too."""
    from iptcare.chart import settings_views

    field = settings_views.ProgramSettingsForm.base_fields["not_on_track_session"]
    monkeypatch.setattr(field, "validators", [])
    http = login_as(alice)
    before = last_audit_id()
    response = http.post(
        f"/programs/{northside.public_id}/settings/",
        {
            "initial_sessions": 4,
            "termination_sessions": 2,
            "review_interval_days": 60,
            "not_on_track_session": 80,
        },
    )
    assert response.status_code == 400
    assert "Between session 2 and 52." in response.content.decode()
    assert not PhaseBoundaries.objects.exists() and not PlanSettings.objects.exists()
    assert not MeasureSettings.objects.exists()
    # One event: the write failed, naming the field and not the value refused.
    (event,) = audit_events_after(before)
    assert (event.action, event.outcome) == ("update", "failure")
    assert event.reason == "failed: InvalidInput (422); fields: not_on_track_session"
    assert "80" not in event.reason and not re.search(r":\s*80\b", json.dumps(event.detail))


def test_measure_settings_service_refuses_out_of_range_and_non_administrators(
    alice: User, theo: User, northside: Program
) -> None:
    with pytest.raises(InvalidInput) as bad:
        measure_settings_update(actor=alice, program=northside, not_on_track_session=53)
    assert "not_on_track_session" in bad.value.field_errors
    with pytest.raises(Forbidden):
        measure_settings_update(actor=theo, program=northside, not_on_track_session=10)
    assert not MeasureSettings.objects.exists()
    assert AuditEvent.objects.filter(actor_id=theo.public_id, outcome="denied").count() == 1
    measure_settings_update(actor=alice, program=northside, not_on_track_session=10)
    assert not_on_track_session(northside.pk) == 10


@pytest.mark.parametrize(("persona", "status"), [("theo", 403), ("remy", 403), ("oscar", 404)])
def test_others_cannot_change_settings(
    request: pytest.FixtureRequest,
    persona: str,
    status: int,
    northside: Program,
    login_as: Callable[[User], HttpClient],
) -> None:
    actor: User = request.getfixturevalue(persona)
    http = login_as(actor)
    url = f"/programs/{northside.public_id}/settings/"
    assert http.get(url).status_code == status
    before = last_audit_id()
    assert http.post(url, SETTINGS).status_code == status
    (event,) = audit_events_after(before)
    assert (event.outcome, event.actor_id) == ("denied", actor.public_id)
    assert not PhaseBoundaries.objects.exists() and not MeasureSettings.objects.exists()
    assert not PlanSettings.objects.exists()
