"""DSM-5 checklist → proposed code → confirmed diagnosis; co-occurring; entered in error; ASAM."""

from __future__ import annotations

from typing import Any

import pytest

from iptcare.accounts.models import User
from iptcare.clients import services
from iptcare.clients.choices import LevelOfCare
from iptcare.clients.errors import InvalidTransition
from iptcare.clients.models import AsamAssessment, Client, Diagnosis, Episode, SudAssessment
from iptcare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.clients.conftest import discharge

FOUR = {"larger_amounts": True, "cut_down": True, "craving": True, "tolerance": True}


def checklist(actor: User, episode: Episode, **kw: Any) -> SudAssessment:
    return services.sud_assessment_create(
        actor=actor,
        episode=episode,
        substance_class=kw.pop("substance_class", "opioid"),
        answers=kw.pop("answers", FOUR),
        **kw,
    )


def test_checklist_computes_count_severity_and_code(theo: User, admitted: Episode) -> None:
    a = checklist(theo, admitted)
    assert (a.criteria_count, a.severity, a.proposed_code) == (4, "moderate", "F11.20")
    b = checklist(theo, admitted, taken_as_prescribed=True)
    assert (b.criteria_count, b.severity, b.proposed_code) == (3, "mild", "F11.10")


def test_confirming_the_proposal_creates_the_diagnosis(theo: User, admitted: Episode) -> None:
    a = checklist(theo, admitted)
    d = services.diagnosis_confirm(actor=theo, assessment=a)
    assert (d.code, d.kind, d.source_assessment, d.confirmed_by) == (
        "F11.20",
        "substance_use",
        a,
        theo,
    )
    assert d.description == "Opioid use disorder, moderate" and d.override_reason == ""
    with pytest.raises(InvalidTransition):
        services.diagnosis_confirm(actor=theo, assessment=a)


def test_override_needs_a_valid_code_and_a_reason(theo: User, admitted: Episode) -> None:
    a = checklist(theo, admitted)
    with pytest.raises(InvalidInput) as exc:
        services.diagnosis_confirm(actor=theo, assessment=a, code="F11.21")
    assert set(exc.value.field_errors) == {"override_reason", "description"}
    with pytest.raises(InvalidInput) as exc:
        services.diagnosis_confirm(
            actor=theo, assessment=a, code="11.2", description="x", override_reason="y"
        )
    assert "code" in exc.value.field_errors
    assert not Diagnosis.objects.exists()
    d = services.diagnosis_confirm(
        actor=theo,
        assessment=a,
        code="f11.21",
        description="Opioid use disorder, moderate, in early remission",
        override_reason="In early remission for 4 months",
    )
    assert (d.code, d.proposed_code) == ("F11.21", "F11.20")


def test_below_threshold_nothing_is_proposed(theo: User, admitted: Episode) -> None:
    a = checklist(theo, admitted, answers={"craving": True})
    assert (a.severity, a.proposed_code) == ("none", "")
    with pytest.raises(InvalidInput):
        services.diagnosis_confirm(actor=theo, assessment=a)


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        *[("F32.1", True), ("f41.1", True), ("F43.10", True), ("Z72.0", True), ("F41", True)],
        *[("32.1", False), ("F3", False), ("F32.12345", False), ("F32-1", False), ("", False)],
    ],
)
def test_co_occurring_code_format(theo: User, client_record: Client, code: str, ok: bool) -> None:
    if ok:
        d = services.diagnosis_add(actor=theo, client=client_record, code=code, description="x")
        assert d.code == code.upper() and d.kind == "co_occurring"
    else:
        with pytest.raises(InvalidInput) as exc:
            services.diagnosis_add(actor=theo, client=client_record, code=code, description="x")
        assert "code" in exc.value.field_errors
        assert not Diagnosis.objects.exists()


def test_entered_in_error_keeps_the_row(theo: User, client_record: Client) -> None:
    d = services.diagnosis_add(
        actor=theo, client=client_record, code="F41.1", description="Generalized anxiety disorder"
    )
    with pytest.raises(InvalidInput):
        services.diagnosis_mark_entered_in_error(actor=theo, diagnosis=d, version=1, reason=" ")
    marked = services.diagnosis_mark_entered_in_error(
        actor=theo, diagnosis=d, version=1, reason="Wrong client"
    )
    assert marked.entered_in_error and marked.entered_in_error_by == theo and marked.version == 2
    with pytest.raises(Conflict):
        services.diagnosis_mark_entered_in_error(actor=theo, diagnosis=d, version=1, reason="x")
    assert Diagnosis.objects.count() == 1


def test_asam_records_ratings_and_the_clinicians_level(theo: User, admitted: Episode) -> None:
    ratings = {"d1": 0, "d2": 1, "d3": 2, "d4": 3, "d5": 4, "d6": 2}
    a = services.asam_assessment_create(
        actor=theo, episode=admitted, ratings=ratings, level_of_care=LevelOfCare.L2_1
    )
    assert [r for _, r, _ in a.dimensions] == [0, 1, 2, 3, 4, 2] and a.level_of_care == "2.1"


@pytest.mark.parametrize(
    ("ratings", "level", "field"),
    [
        ({"d1": 0, "d2": 1, "d3": 2, "d4": 3, "d5": 4}, "1", "d6_rating"),
        ({"d1": 5, "d2": 1, "d3": 2, "d4": 3, "d5": 4, "d6": 0}, "1", "d1_rating"),
        ({"d1": 0, "d2": 1, "d3": 2, "d4": 3, "d5": 4, "d6": 0}, "", "level_of_care"),
        ({"d1": 0, "d2": 1, "d3": 2, "d4": 3, "d5": 4, "d6": 0, "d7": 1}, "1", "d7"),
    ],
)
def test_asam_bad_input(
    theo: User, admitted: Episode, ratings: dict[str, int], level: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.asam_assessment_create(
            actor=theo, episode=admitted, ratings=ratings, level_of_care=level
        )
    assert field in exc.value.field_errors
    assert not AsamAssessment.objects.exists()


def test_assessments_need_an_open_episode(theo: User, admitted: Episode) -> None:
    closed = discharge(theo, admitted)
    with pytest.raises(InvalidTransition):
        checklist(theo, closed)


def test_outsiders_cannot_assess_or_diagnose(
    tess: User, remy: User, oscar: User, client_record: Client, admitted: Episode
) -> None:
    for actor, error in ((tess, Forbidden), (remy, Forbidden), (oscar, NotFound)):
        with pytest.raises(error):
            checklist(actor, admitted)
        with pytest.raises(error):
            services.diagnosis_add(actor=actor, client=client_record, code="F41.1", description="x")
    assert not SudAssessment.objects.exists() and not Diagnosis.objects.exists()


def test_the_proposed_code_shows_its_source_on_the_page_and_in_the_api(
    theo: User, admitted: Episode, login_as: Any
) -> None:
    from iptcare.clients.icd10_sud import CODE_SOURCE

    http = login_as(theo)
    proposed = checklist(theo, admitted)  # moderate opioid use disorder: F11.20
    page = http.get(f"/sud-assessments/{proposed.public_id}/").content.decode()
    assert "F11.20 — Opioid use disorder, moderate" in page
    assert f'data-testid="code-source">Source: {CODE_SOURCE}' in page
    assert CODE_SOURCE.startswith("DSM-5-TR")
    below = checklist(theo, admitted, answers={"craving": True}, substance_class="alcohol")
    assert (
        "none (below the DSM-5 threshold)"
        in http.get(f"/sud-assessments/{below.public_id}/").content.decode()
    )
    listed = http.get(f"/api/v1/episodes/{admitted.public_id}/sud-assessments").json()
    sources = {a["proposed_code"]: a["proposed_code_source"] for a in listed}
    assert sources == {"F11.20": CODE_SOURCE, "": ""}
