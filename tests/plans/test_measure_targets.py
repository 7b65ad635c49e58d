"""Objectives linked to a measure target, their progress, and the measure trends for review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import InvalidInput
from iptcare.measures import services as measures
from iptcare.plans import services
from iptcare.plans.measure_targets import Target, parse_target, target_problems
from iptcare.plans.models import TreatmentPlan
from tests.plans.conftest import complete_content


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("< 10", Target("<", 10)),
        ("<=9", Target("<=", 9)),
        (" >= 5.5 ", Target(">=", 5.5)),
        ("> 0", Target(">", 0)),
        ("below 10", None),
        ("10", None),
        ("=< 10", None),
        ("", None),
    ],
)
def test_parse_target(text: str, expected: Target | None) -> None:
    assert parse_target(text) == expected


HELP = 'A comparison with a score, e.g. "< 10" or ">= 5".'
NO_TOTAL = "Readiness Ruler (importance and confidence) has no total score to set a target on."
RANGE = "Patient Health Questionnaire-9 (PHQ-9) scores run from 0 to 27."


@pytest.mark.parametrize(
    ("code", "target", "problems"),
    [
        ("phq-9", "< 10", {}),
        ("phq-9", "<= 27", {}),
        ("", "", {}),
        ("phq-9", "< 28", {"target_text": RANGE}),
        ("phq-9", "under ten", {"target_text": HELP}),
        ("phq-9", "", {"target_text": f"Set a target. {HELP}"}),
        ("", "< 10", {"target_text": "Choose a measure for this target."}),
        ("phq-10", "< 10", {"measure_code": "No such instrument."}),
        ("readiness-ruler", "> 5", {"measure_code": NO_TOTAL}),
    ],
)  # fmt: skip
def test_target_problems(code: str, target: str, problems: dict[str, str]) -> None:
    assert target_problems(code, target) == problems


def _with_target(theo: User, target_text: str, code: str = "phq-9") -> dict[str, Any]:
    content = complete_content(responsible=theo)
    objective = content["problems"][0]["goals"][0]["objectives"][0]
    objective.update(measure_code=code, target_text=target_text)
    return content


def test_bad_target_is_refused_at_its_field_and_changes_nothing(
    theo: User, draft: TreatmentPlan
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.plan_update_draft(
            actor=theo, plan=draft, version=draft.version, content_in=_with_target(theo, "ten")
        )
    assert list(exc.value.field_errors) == ["problems.0.goals.0.objectives.0.target_text"]
    draft.refresh_from_db()
    assert draft.version == 2  # unchanged since the fixture saved it


def test_plan_page_shows_objective_progress_and_measure_trends(
    theo: User,
    draft: TreatmentPlan,
    episode: Episode,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    services.plan_update_draft(
        actor=theo, plan=draft, version=draft.version, content_in=_with_target(theo, "< 10")
    )

    def phq9(values: list[int]) -> dict[str, str]:
        return {str(n + 1): str(v) for n, v in enumerate(values)}

    http = login_as(theo)
    url = f"/episodes/{episode.public_id}/plan/"
    page = http.get(url).content.decode()
    assert "no score yet" in page
    measures.administer(
        actor=theo, client=client_record, instrument_code="phq-9",
        answers=phq9([3, 3, 2, 2, 2, 2, 1, 1, 0]),
    )  # fmt: skip
    page = http.get(url).content.decode()
    assert "latest 16" in page and "not yet" in page
    measures.administer(
        actor=theo, client=client_record, instrument_code="phq-9",
        answers=phq9([1, 1, 1, 1, 1, 1, 1, 0, 0]),
    )  # fmt: skip
    page = http.get(url).content.decode()
    assert "latest 7" in page and "target met" in page
    trends = page.split('data-testid="measure-trends"')[1].split("</section>")[0]
    assert "Patient Health Questionnaire-9 (PHQ-9)" in trends
    assert "improved" in trends  # 16 -> 7: at least 6 points (the instrument's threshold)
