"""The generic engine: loading refuses malformed files; scoring, missing items, reliable change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iptcare.core.errors import InvalidInput
from iptcare.measures import engine
from iptcare.measures.engine import (
    DefinitionError,
    InvalidAnswers,
    NoReliableChangeRule,
    UnknownInstrument,
    load_dir,
    load_file,
    reliable_change,
    score,
)

# A small but complete definition; the tests below break it one way at a time.
VALID = """
schema = 1
code = "toy"
title = "Toy scale"
version = "1"
description = "Three items for testing the engine."
recall_period = "the last week"
instructions = "Answer each question."
licence = "Test data only."
direction = "lower_is_better"
scoring_source = "src"

[[sources]]
key = "src"
citation = "Nobody N. A scale for tests. J Tests 2000;1:1-2."
year = 2000

[option_sets]
three = [
  { code = "a", display = "Never", score = 0 },
  { code = "b", display = "Sometimes", score = 1 },
  { code = "c", display = "Often", score = 2 },
]

[[items]]
number = "1"
text = "First"
option_set = "three"

[[items]]
number = "2"
text = "Second"
option_set = "three"

[[items]]
number = "3"
text = "Third, reversed"
options = [
  { code = "a", display = "Never", score = 2 },
  { code = "b", display = "Sometimes", score = 1 },
  { code = "c", display = "Often", score = 0 },
]

[missing]
rule = "no_total"

[total]
aggregation = "sum"
min = 0
max = 6
source = "src"

[[bands]]
code = "low"
min = 0
max = 2
label = "Low"
client_label = "Low"
source = "src"

[[bands]]
code = "high"
min = 3
max = 6
label = "High"
client_label = "High"
source = "src"

[[flags]]
code = "item-2"
severity = "safety"
message = "Item 2 endorsed."
target = "item:2"
op = ">="
value = 1
source = "src"
"""


def write(tmp_path: Path, text: str, name: str = "toy") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str, name: str = "toy") -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_file(write(tmp_path, text, name))
    return caught.value.problems


def test_the_valid_fixture_loads(tmp_path: Path) -> None:
    inst = load_file(write(tmp_path, VALID))
    assert inst.code == "toy" and [i.number for i in inst.items] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'licence = "Test data only."',
            'licence = "x"\nlicense = "typo"',
            "$.license: unknown key",
        ),
        ('text = "First"', 'text = "First"\nhelp = "x"', "$.items[0].help: unknown key"),
        (
            '{ code = "c", display = "Often", score = 2 },\n]\n\n[[items]]',
            '{ code = "c", display = "Often", score = 5 },\n]\n\n[[items]]',
            "declared range 0 to 6 but the options give 0 to 12",
        ),
        ('number = "2"', 'number = "1"', "duplicate item number '1'"),
        (
            '{ code = "b", display = "Sometimes", score = 1 },\n  { code = "c"',
            '{ code = "a", display = "Sometimes", score = 1 },\n  { code = "c"',
            "duplicate option code 'a'",
        ),
        ("min = 3\nmax = 6", "min = 4\nmax = 6", "$.bands[1]: must start at 3"),
        ("min = 3\nmax = 6", "min = 2\nmax = 6", "$.bands[1]: must start at 3"),
        ('max = 2\nlabel = "Low"', 'max = 2\nlabel = "Low"', ""),  # control: unchanged text
        ('target = "item:2"', 'target = "item:9"', "'item:9' is not 'total'"),
        ('value = 1\nsource = "src"', 'value = 1\nsource = "nowhere"', "'nowhere' is not a key"),
        ('code = "toy"', 'code = "other"', "must match the file name"),
        ('code = "toy"', 'code = "Toy"', "must be lower-case"),
        (
            'option_set = "three"\n\n[[items]]\nnumber = "2"',
            'option_set = "four"\n\n[[items]]\nnumber = "2"',
            "no option set named 'four'",
        ),
        ('score = 0 },\n  { code = "b"', 'score = "0" },\n  { code = "b"', "must be an integer"),
        ('rule = "no_total"', 'rule = "guess"', "$.missing.rule: must be one of"),
        (
            'rule = "no_total"',
            'rule = "prorate"\nmax_missing = 1',
            "a prorating rule must cite its published source",
        ),
        ("schema = 1", "schema = 2", "$.schema: must be 1"),
        ('severity = "safety"', 'severity = "urgent"', "severity: must be one of"),
        (
            '[total]\naggregation = "sum"',
            '[total]\naggregation = "median"',
            "must be one of sum, mean",
        ),
    ],
)
def test_a_malformed_definition_is_refused(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    assert old in VALID
    text = VALID.replace(old, new, 1)
    if not problem:
        load_file(write(tmp_path, text))
        return
    problems = refused(tmp_path, text)
    assert any(problem in p for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace('title = "Toy scale"', 'title = ""').replace(
        'number = "3"', 'number = "2"'
    )
    problems = refused(tmp_path, text)
    assert any("$.title" in p for p in problems)
    assert any("duplicate item number '2'" in p for p in problems)


def test_bands_that_do_not_reach_the_maximum_are_refused(tmp_path: Path) -> None:
    problems = refused(tmp_path, VALID.replace("min = 3\nmax = 6", "min = 3\nmax = 5"))
    assert any("the last band must end at the total maximum 6" in p for p in problems)


def test_unparseable_toml_is_refused(tmp_path: Path) -> None:
    problems = refused(tmp_path, VALID + "\nthis is not toml")
    assert problems[0].startswith("cannot read")


def test_one_bad_file_refuses_the_whole_directory(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    write(
        tmp_path,
        VALID.replace('code = "toy"', 'code = "toy-2"').replace("schema = 1", ""),
        name="toy-2",
    )
    with pytest.raises(DefinitionError) as caught:
        load_dir(tmp_path)
    assert caught.value.source.endswith("toy-2.toml")


def test_a_screen_cutoff_outside_the_range_is_refused(tmp_path: Path) -> None:
    text = (
        VALID + '\n[[screens]]\ncode = "s"\nlabel = "S"\ncutoffs = [{ min = 7 }]\nsource = "src"\n'
    )
    assert any("must lie within" in p for p in refused(tmp_path, text))


def test_adding_an_instrument_needs_no_code(tmp_path: Path) -> None:
    inst = load_dir(write(tmp_path, VALID).parent)["toy"]
    result = score(inst, {"1": "c", "2": "a", "3": "a"})
    assert result.total == 4 and result.band is not None and result.band.code == "high"
    assert result.item_scores == {"1": 2, "2": 0, "3": 2}
    assert result.flags == ()
    assert score(inst, {"1": "a", "2": "b", "3": "c"}).flags[0].code == "item-2"


def test_prorating_follows_the_data(tmp_path: Path) -> None:
    text = VALID.replace('rule = "no_total"', 'rule = "prorate"\nmax_missing = 1\nsource = "src"')
    inst = load_file(write(tmp_path, text))
    one_missing = score(inst, {"1": "c", "2": "b"})  # mean 1.5 x 3 = 4.5 -> rounds half up to 5
    assert (one_missing.total, one_missing.prorated, one_missing.complete) == (5, True, False)
    assert one_missing.missing == ("3",)
    two_missing = score(inst, {"1": "c"})
    assert two_missing.total is None and not two_missing.prorated


def test_jacobson_truax_reliable_change(tmp_path: Path) -> None:
    text = (
        VALID
        + '\n[reliable_change]\nmethod = "jacobson_truax"\nsd = 2\nreliability = 0.5\n'
        + 'source = "src"\n'
    )
    inst = load_file(write(tmp_path, text))
    # S_diff = sqrt(2) * 2 * sqrt(0.5) = 2; threshold = 1.96 * 2 = 3.92 points.
    assert reliable_change(inst, 0, 4).outcome == "deteriorated"
    assert reliable_change(inst, 4, 0).outcome == "improved"
    change = reliable_change(inst, 0, 3)
    assert change.outcome == "no_reliable_change"
    assert change.threshold == pytest.approx(3.92)


@pytest.mark.parametrize(
    ("code", "before", "after", "outcome"),
    [
        ("phq-9", 18, 12, "improved"),  # 6 points down: reliable (NHS Talking Therapies)
        ("phq-9", 18, 13, "no_reliable_change"),
        ("phq-9", 10, 16, "deteriorated"),
        ("gad-7", 15, 11, "improved"),  # 4 points down
        ("gad-7", 15, 12, "no_reliable_change"),
        ("gad-7", 5, 9, "deteriorated"),
    ],
)
def test_published_reliable_change_thresholds(
    code: str, before: int, after: int, outcome: str
) -> None:
    result = reliable_change(engine.get(code), before, after)
    assert result.outcome == outcome
    assert result.source.key == "nhs-tt"


def test_reliable_change_is_refused_without_a_published_rule() -> None:
    for code in ("audit", "audit-c", "dast-10", "mspss", "readiness-ruler"):
        with pytest.raises(NoReliableChangeRule):
            reliable_change(engine.get(code), 1, 2)


def test_reliable_change_refuses_totals_out_of_range() -> None:
    with pytest.raises(InvalidInput) as caught:
        reliable_change(engine.get("phq-9"), -1, 28)
    assert set(caught.value.field_errors) == {"before", "after"}


def test_unknown_instrument() -> None:
    with pytest.raises(UnknownInstrument) as caught:
        engine.get("phq-10")
    assert caught.value.status == 404


def test_load_all_returns_a_fresh_dict_of_cached_instruments() -> None:
    first, second = engine.load_all(), engine.load_all()
    assert first is not second and first["phq-9"] is second["phq-9"]
    first.clear()
    assert "phq-9" in engine.load_all()


@pytest.mark.parametrize("answers", [None, ["0"], "0"])
def test_answers_that_are_not_an_object_are_refused(answers: object) -> None:
    with pytest.raises(InvalidAnswers) as caught:
        score(engine.get("phq-9"), answers)  # type: ignore[arg-type]
    assert list(caught.value.errors) == ["answers"]


def test_non_string_item_numbers_and_bad_context_are_refused() -> None:
    inst = engine.get("phq-9")
    with pytest.raises(InvalidAnswers) as caught:
        score(inst, {1: "0"})  # type: ignore[dict-item]
    # A key that is no item is named in the message, under "answers" (error keys are fields).
    assert list(caught.value.errors) == ["answers"]
    assert "not 1" in caught.value.errors["answers"]
    with pytest.raises(InvalidAnswers) as caught:
        score(inst, {}, context={"sex": 1})  # type: ignore[dict-item]
    assert list(caught.value.errors) == ["context"]


def test_empty_answers_give_an_incomplete_result() -> None:
    result = score(engine.get("phq-9"), {})
    assert result.total is None and not result.complete and len(result.missing) == 9


@pytest.mark.parametrize("code", sorted(engine.load_all()))
def test_definitions_serialise_for_the_api(code: str) -> None:
    inst = engine.get(code)
    data = json.loads(json.dumps(inst.to_dict()))
    assert data["code"] == code
    assert len(data["items"]) == len(inst.items)
    for item in data["items"]:
        assert item["options"] and all(
            set(o) == {"code", "display", "score"} for o in item["options"]
        )


def test_score_results_serialise_for_the_api() -> None:
    inst = engine.get("phq-9")
    data = json.loads(json.dumps(score(inst, {str(n): "1" for n in range(1, 10)}).to_dict()))
    assert data["total"] == 9 and data["complete"] is True
    assert data["band"] == {
        "code": "mild",
        "label": "Mild depression",
        "client_label": "Some signs of depression",
    }
    assert data["flags"][0]["code"] == "item-9-self-harm" and data["flags"][0]["item"] == "9"
    rc = reliable_change(inst, 20, 10).to_dict()
    assert rc["outcome"] == "improved" and rc["threshold"] == 6
