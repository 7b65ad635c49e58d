"""Every shipped instrument, scored against its published rules (sources in each TOML file)."""

from __future__ import annotations

import pytest

from iptcare.measures import engine
from iptcare.measures.engine import InvalidAnswers, score

from .helpers import all_max, all_min, by_score

SHIPPED = ["audit", "audit-c", "dast-10", "gad-7", "mspss", "phq-9", "readiness-ruler"]

# Published ranges: PHQ-9 0-27 (Kroenke 2001), GAD-7 0-21 (Spitzer 2006), AUDIT 0-40 and
# AUDIT-C 0-12 (Babor 2001; Bush 1998), DAST-10 0-10 (Skinner 1982), MSPSS means 1-7 (Zimet).
RANGES = {
    "phq-9": (0, 27),
    "gad-7": (0, 21),
    "audit": (0, 40),
    "audit-c": (0, 12),
    "dast-10": (0, 10),
    "mspss": (1, 7),
}


def test_exactly_the_expected_instruments_ship() -> None:
    assert sorted(engine.load_all()) == SHIPPED


@pytest.mark.parametrize("code", SHIPPED)
def test_every_rule_cites_a_source_that_exists(code: str) -> None:
    inst = engine.get(code)
    keys = {s.key for s in inst.sources}
    cited = [inst.scoring_source]
    cited += [b.source for b in inst.bands] + [s.source for s in inst.subscales]
    cited += [f.source for f in inst.flags] + [s.source for s in inst.screens]
    if inst.total:
        cited.append(inst.total.source)
    if inst.reliable_change:
        cited.append(inst.reliable_change.source)
    assert set(cited) <= keys
    assert all(s.citation and s.year for s in inst.sources)


@pytest.mark.parametrize("code", sorted(RANGES))
def test_all_minimum_and_all_maximum(code: str) -> None:
    inst = engine.get(code)
    lo, hi = RANGES[code]
    low, high = score(inst, all_min(inst)), score(inst, all_max(inst))
    assert (low.total, high.total) == (lo, hi)
    assert low.complete and high.complete and not low.missing


def test_readiness_ruler_reports_two_single_item_scores_and_no_total() -> None:
    inst = engine.get("readiness-ruler")
    result = score(inst, {"1": "7", "2": "3"})
    assert result.total is None and result.band is None
    assert result.complete
    assert dict(result.subscales) == {"importance": 7, "confidence": 3}
    assert score(inst, all_min(inst)).subscales == {"importance": 0, "confidence": 0}
    assert score(inst, all_max(inst)).subscales == {"importance": 10, "confidence": 10}
    partial = score(inst, {"2": "9"})
    assert partial.subscales == {"importance": None, "confidence": 9}
    assert not partial.complete and partial.missing == ("1",)


@pytest.mark.parametrize("code", SHIPPED)
def test_a_missing_item_gives_no_total_and_an_incomplete_administration(code: str) -> None:
    inst = engine.get(code)
    for item in inst.items:
        answers = all_max(inst)
        del answers[item.number]
        result = score(inst, answers)
        assert result.total is None and result.band is None
        assert not result.complete and result.missing == (item.number,)
        assert result.prorated is False
        assert item.number not in result.item_scores


@pytest.mark.parametrize("code", SHIPPED)
def test_invalid_answers_name_every_bad_item(code: str) -> None:
    inst = engine.get(code)
    first, second = inst.items[0].number, inst.items[1].number
    bad = {first: "no-such-option", second: 3, "99": inst.items[0].options[0].code}
    with pytest.raises(InvalidAnswers) as caught:
        score(inst, bad)  # type: ignore[arg-type]
    errors = caught.value.errors
    assert set(errors) == {first, second, "answers"}  # "99" is no item: not a field name
    assert "'no-such-option' is not an option" in errors[first]
    assert "must be an option code" in errors[second]
    assert "has no item '99'" in errors["answers"]
    assert caught.value.status == 422
    assert set(caught.value.field_errors) == {f"answers.{k}" for k in errors}


# --- PHQ-9 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately-severe"),
        (19, "moderately-severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_boundaries(total: int, band: str) -> None:
    # Kroenke 2001: 5, 10, 15 and 20 are the cut points for mild ... severe.
    inst = engine.get("phq-9")
    scores = {str(n): 0 for n in range(1, 10)}
    left = total
    for n in range(1, 9):  # keep item 9 at 0 so the safety flag does not interfere
        scores[str(n)] = min(3, left)
        left -= scores[str(n)]
    scores["9"] = left
    result = score(inst, by_score(inst, scores))
    assert result.total == total
    assert result.band is not None and result.band.code == band


@pytest.mark.parametrize(
    ("item9", "flagged"), [("0", False), ("1", True), ("2", True), ("3", True)]
)
def test_phq9_item9_raises_a_safety_flag_regardless_of_a_low_total(
    item9: str, flagged: bool
) -> None:
    inst = engine.get("phq-9")
    answers = all_min(inst) | {"9": item9}
    result = score(inst, answers)
    assert result.band is not None and result.band.code == "minimal"
    safety = [f for f in result.flags if f.severity == "safety"]
    assert bool(safety) is flagged
    if flagged:
        assert safety[0].item == "9" and safety[0].code == "item-9-self-harm"


def test_phq9_item9_flag_is_raised_even_when_the_administration_is_incomplete() -> None:
    inst = engine.get("phq-9")
    result = score(inst, {"9": "1"})
    assert result.total is None
    assert [f.code for f in result.flags] == ["item-9-self-harm"]


def test_phq9_published_example() -> None:
    # HL7 Personal Health Record Format IG, examples QuestionnaireResponse phq9 (item answers
    # LA6568-5 / LA6569-3) and Observation ScoredAssessmentPHQ9Example: LOINC 44261-6 total = 3,
    # risk "Minimal".
    inst = engine.get("phq-9")
    answers = [0, 0, 1, 1, 1, 0, 0, 0, 0]
    result = score(inst, by_score(inst, {str(n): s for n, s in enumerate(answers, 1)}))
    assert result.total == 3
    assert result.band is not None and result.band.code == "minimal"
    assert not [f for f in result.flags if f.severity == "safety"]


def test_phq9_major_depression_cutoff_at_10() -> None:
    inst = engine.get("phq-9")
    nine = score(inst, by_score(inst, {"1": 3, "2": 3, "3": 3} | {str(n): 0 for n in range(4, 10)}))
    ten = score(
        inst, by_score(inst, {"1": 3, "2": 3, "3": 3, "4": 1} | {str(n): 0 for n in range(5, 10)})
    )
    assert (nine.total, ten.total) == (9, 10)
    assert nine.screens[0].positive is False and ten.screens[0].positive is True


# --- GAD-7 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scores", "total", "band"),
    [
        # HL7 PACIO Sample Data Depot, QuestionnaireResponse BSJ1-GAD7 (October 2025):
        # total 7, mild anxiety.
        ([1, 1, 1, 1, 0, 1, 2], 7, "mild"),
        # Same patient, January 2026: total 4, minimal anxiety.
        ([1, 0, 0, 1, 0, 1, 1], 4, "minimal"),
        # MII PRO IG example GAD-7 response: 1, 1, 1, 2, 2, 0, 0 -> total 7.
        ([1, 1, 1, 2, 2, 0, 0], 7, "mild"),
        # HL7 Personal Health Record Format IG, examples QuestionnaireResponse gad7 (answers)
        # and Observation ScoredAssessmentGAD7Example (LOINC 70274-6 = 3, risk "Minimal").
        ([0, 0, 1, 1, 0, 1, 0], 3, "minimal"),
    ],
)
def test_gad7_published_examples(scores: list[int], total: int, band: str) -> None:
    inst = engine.get("gad-7")
    result = score(inst, by_score(inst, {str(n): s for n, s in enumerate(scores, 1)}))
    assert result.total == total
    assert result.band is not None and result.band.code == band


@pytest.mark.parametrize(
    ("total", "band"),
    [(4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"), (15, "severe")],
)
def test_gad7_band_boundaries(total: int, band: str) -> None:
    inst = engine.get("gad-7")
    scores, left = {}, total
    for n in range(1, 8):
        scores[str(n)] = min(3, left)
        left -= scores[str(n)]
    result = score(inst, by_score(inst, scores))
    assert result.total == total and result.band is not None and result.band.code == band


# --- AUDIT and AUDIT-C ---------------------------------------------------------------------------
def test_audit_items_9_and_10_score_0_2_4() -> None:
    inst = engine.get("audit")
    for number in ("9", "10"):
        item = inst.item(number)
        assert item is not None
        assert [o.score for o in item.options] == [0, 2, 4]
    for number in map(str, range(1, 9)):
        item = inst.item(number)
        assert item is not None and [o.score for o in item.options] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("total", "zone"),
    [(7, "zone-1"), (8, "zone-2"), (15, "zone-2"), (16, "zone-3"), (19, "zone-3"), (20, "zone-4")],
)
def test_audit_zone_boundaries(total: int, zone: str) -> None:
    inst = engine.get("audit")
    scores, left = {}, total
    for n in range(1, 11):
        scores[str(n)] = min(4, left) if n <= 8 else 0
        left -= scores[str(n)]
    assert left == 0
    result = score(inst, by_score(inst, scores))
    assert result.total == total and result.band is not None and result.band.code == zone


def test_audit_a_4_on_item_9_or_10_raises_the_intervention_flag() -> None:
    inst = engine.get("audit")
    base = all_min(inst)
    assert score(inst, base | {"9": "2"}).flags == ()
    flags = score(inst, base | {"9": "4", "10": "4"}).flags
    assert [(f.code, f.item) for f in flags] == [
        ("item-9-injury-last-year", "9"),
        ("item-10-concern-last-year", "10"),
    ]


def test_audit_subscales() -> None:
    inst = engine.get("audit")
    result = score(inst, all_max(inst))
    assert result.subscales == {"consumption": 12, "dependence": 12, "problems": 16}


def test_audit_c_uses_the_same_answers_as_audit_items_1_to_3() -> None:
    audit, audit_c = engine.get("audit"), engine.get("audit-c")
    for number in ("1", "2", "3"):
        a, c = audit.item(number), audit_c.item(number)
        assert a is not None and c is not None
        assert (a.text, a.options) == (c.text, c.options)


@pytest.mark.parametrize(
    ("total", "sex", "positive"),
    [(3, "male", False), (4, "male", True), (2, "female", False), (3, "female", True)],
)
def test_audit_c_threshold_by_sex(total: int, sex: str, positive: bool) -> None:
    # Bush 1998 (men >= 4), Bradley 2003 (women >= 3).
    inst = engine.get("audit-c")
    answers = by_score(inst, {"1": min(total, 4), "2": max(total - 4, 0), "3": 0})
    screen = score(inst, answers, context={"sex": sex}).screens[0]
    assert screen.positive is positive
    assert screen.cutoff == (4 if sex == "male" else 3)
    assert dict(screen.by_context) == {}


@pytest.mark.parametrize("context", [None, {}, {"sex": "unknown"}])
def test_audit_c_without_a_known_sex_reports_both_thresholds(
    context: dict[str, str] | None,
) -> None:
    inst = engine.get("audit-c")
    screen = score(inst, by_score(inst, {"1": 3, "2": 0, "3": 0}), context=context).screens[0]
    assert screen.positive is None and screen.cutoff is None
    assert dict(screen.by_context) == {"male": False, "female": True}


# --- DAST-10 --------------------------------------------------------------------------------------
def test_dast10_item_3_is_reversed_and_the_others_are_not() -> None:
    inst = engine.get("dast-10")
    none = {str(n): "no" for n in range(1, 11)}
    assert score(inst, none).total == 1  # "No" to item 3 scores 1 (Skinner)
    assert score(inst, none | {"3": "yes"}).total == 0
    for n in (1, 2, 4, 5, 6, 7, 8, 9, 10):
        assert score(inst, none | {"3": "yes", str(n): "yes"}).total == 1


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none"),
        (1, "low"),
        (2, "low"),
        (3, "moderate"),
        (5, "moderate"),
        (6, "substantial"),
        (8, "substantial"),
        (9, "severe"),
        (10, "severe"),
    ],
)
def test_dast10_band_boundaries(total: int, band: str) -> None:
    inst = engine.get("dast-10")
    answers = {"3": "yes"} | {str(n): "no" for n in (1, 2, 4, 5, 6, 7, 8, 9, 10)}
    others = [n for n in (1, 2, 4, 5, 6, 7, 8, 9, 10)]
    for n in others[: min(total, 9)]:
        answers[str(n)] = "yes"
    if total == 10:
        answers["3"] = "no"
    result = score(inst, answers)
    assert result.total == total and result.band is not None and result.band.code == band


# --- MSPSS ----------------------------------------------------------------------------------------
def test_mspss_subscale_and_total_means() -> None:
    inst = engine.get("mspss")
    # Significant other items 1, 2, 5, 10 = 7; family 3, 4, 8, 11 = 4; friends 6, 7, 9, 12 = 1.
    scores = {n: 7 for n in ("1", "2", "5", "10")} | {n: 4 for n in ("3", "4", "8", "11")}
    scores |= {n: 1 for n in ("6", "7", "9", "12")}
    result = score(inst, by_score(inst, scores))
    assert result.subscales == {"significant-other": 7, "family": 4, "friends": 1}
    assert result.total == pytest.approx(4.0)
    uneven = score(inst, by_score(inst, {str(n): 1 for n in range(1, 12)} | {"12": 2}))
    assert uneven.total == pytest.approx(13 / 12)
    assert uneven.subscales["friends"] == pytest.approx(1.25)
    assert inst.direction == "higher_is_better" and inst.bands == ()
