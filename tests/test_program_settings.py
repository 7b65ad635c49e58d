"""Administrators set a program's IPT phase boundaries and plan review interval."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.core.models import Program
from iptcare.ipt.models import PhaseBoundaries
from iptcare.plans.models import PlanSettings


def test_admin_sets_program_settings(
    alice: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(alice)
    assert f"/programs/{northside.public_id}/settings/".encode() in http.get("/").content
    url = f"/programs/{northside.public_id}/settings/"
    page = http.get(url)
    assert page.status_code == 200
    response = http.post(
        url, {"initial_sessions": 4, "termination_sessions": 2, "review_interval_days": 60}
    )
    assert response.status_code == 302
    bounds = PhaseBoundaries.objects.get(program=northside)
    assert (bounds.initial_sessions, bounds.termination_sessions) == (4, 2)
    assert PlanSettings.objects.get(program=northside).review_interval_days == 60
    assert (
        AuditEvent.objects.filter(
            actor_id=alice.public_id, action="update", data_category="organisation"
        ).count()
        == 2
    )


def test_bad_settings_get_field_errors_and_change_nothing(
    alice: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    response = login_as(alice).post(
        f"/programs/{northside.public_id}/settings/",
        {"initial_sessions": 0, "termination_sessions": 9, "review_interval_days": 3},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("field-error") == 3
    assert not PhaseBoundaries.objects.exists() and not PlanSettings.objects.exists()


@pytest.mark.parametrize(("persona", "status"), [("theo", 403), ("remy", 403), ("oscar", 404)])
def test_others_cannot_change_settings(
    request: pytest.FixtureRequest,
    persona: str,
    status: int,
    northside: Program,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(request.getfixturevalue(persona))
    url = f"/programs/{northside.public_id}/settings/"
    assert http.get(url).status_code == status
    assert (
        http.post(
            url, {"initial_sessions": 4, "termination_sessions": 2, "review_interval_days": 60}
        ).status_code
        == status
    )
    assert not PhaseBoundaries.objects.exists()
