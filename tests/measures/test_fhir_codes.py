"""The LOINC codes each instrument file declares reach the FHIR JSON, and the JSON validates."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from iptcare.measures import engine, fhir


@pytest.mark.parametrize(
    ("code", "panel", "total"),
    [("phq-9", "44249-1", "44261-6"), ("gad-7", "69737-5", "70274-6")],
)
def test_panel_and_total_codes_reach_the_fhir_resources(code: str, panel: str, total: str) -> None:
    instrument = engine.get(code)
    answers = {item.number: item.options[1].code for item in instrument.items}
    result = engine.score(instrument, answers)
    ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)

    qr = fhir.questionnaire_response(
        instrument=instrument, answers=answers, result=result, authored=when, **ids
    )
    observations = fhir.observations(instrument=instrument, result=result, effective=when, **ids)

    assert qr["questionnaire"] == f"http://loinc.org/q/{panel}"
    assert observations[0]["code"]["coding"][0]["code"] == total
    assert observations[0]["valueQuantity"]["value"] == len(instrument.items)
    QuestionnaireResponse.model_validate(qr)
    for observation in observations:
        Observation.model_validate(observation)


def _empties(value: object, path: str = "$") -> list[str]:
    """Paths of empty arrays, objects and strings: FHIR JSON allows none of them."""
    if isinstance(value, dict):
        found = [path] if not value else []
        for key, item in value.items():
            found += _empties(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        found = [path] if not value else []
        for n, item in enumerate(value):
            found += _empties(item, f"{path}[{n}]")
        return found
    return [path] if value == "" else []


@pytest.mark.parametrize("code", sorted(engine.load_all()))
@pytest.mark.parametrize("answered", ["all", "none but the first"])
def test_every_instrument_gives_fhir_json_without_empty_values(code: str, answered: str) -> None:
    instrument = engine.get(code)
    items = instrument.items if answered == "all" else instrument.items[:1]
    answers = {item.number: item.options[-1].code for item in items}
    result = engine.score(instrument, answers)
    ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    qr = fhir.questionnaire_response(
        instrument=instrument, answers=answers, result=result, authored=when, **ids
    )
    observations = fhir.observations(instrument=instrument, result=result, effective=when, **ids)
    assert _empties(qr) == []
    for observation in observations:
        assert _empties(observation) == []


# --- validation by element (iptcare.measures.fhir) ------------------------------------------


@pytest.mark.parametrize("code", sorted(engine.load_all()))
def test_json_validated_by_element_is_valid_as_a_whole(code: str) -> None:
    """Each item and coded element is validated once per process; the whole resources built
    from them must still validate as resources (here without any cache)."""
    instrument = engine.get(code)
    ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    for option in range(max(len(item.options) for item in instrument.items)):
        answers = {
            item.number: item.options[min(option, len(item.options) - 1)].code
            for item in instrument.items
        }
        result = engine.score(instrument, answers)
        qr = fhir.questionnaire_response(
            instrument=instrument, answers=answers, result=result, authored=when, **ids
        )
        QuestionnaireResponse.model_validate(qr)
        assert [entry["linkId"] for entry in qr["item"]] == [i.number for i in instrument.items]
        for observation in fhir.observations(
            instrument=instrument, result=result, effective=when, **ids
        ):
            Observation.model_validate(observation)


def _qr(**changes: object) -> dict[str, object]:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "authored": "2026-11-27T09:30:00+00:00",
        "item": [{"linkId": "1", "answer": [{"valueCoding": {"code": "0", "display": "No"}}]}],
        **changes,
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"item": [{"text": "an item without its linkId"}]},
        {"item": [{"linkId": "1", "answer": [{"valueCoding": {"code": ""}}]}]},
        {"item": [{"linkId": "1", "answer": [{"valueCoding": {"code": "1"}, "valueString": "x"}]}]},
        {"item": [{"linkId": "1", "unknown": True}]},
        {"authored": "yesterday"},
        {"subject": {"reference": ""}},
    ],
    ids=["no linkId", "empty code", "two answer types", "unknown field", "bad date", "empty ref"],
)
def test_an_invalid_element_or_resource_is_refused_every_time(bad: dict[str, object]) -> None:
    assert fhir._validated_qr(_qr()) == _qr()
    for _ in range(2):  # a refusal is never remembered as valid
        with pytest.raises(ValidationError):
            fhir._validated_qr(_qr(**bad))


def test_a_resource_is_validated_once_per_shape_and_its_own_values_every_time() -> None:
    """Another client, administration and time give the same shape (no new validation of the
    resource); a time FHIR refuses (no zone with a time of day) is refused every time, also
    when its shape is known."""
    instrument = engine.get("phq-9")
    answers = {item.number: "1" for item in instrument.items}
    result = engine.score(instrument, answers)

    def build(when: datetime) -> None:
        ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
        fhir.questionnaire_response(
            instrument=instrument, answers=answers, result=result, authored=when, **ids
        )
        fhir.observations(instrument=instrument, result=result, effective=when, **ids)

    build(datetime(2026, 11, 27, 9, 30, tzinfo=UTC))
    misses = fhir._valid_shape.cache_info().misses
    build(datetime(2026, 12, 1, 17, 5, 3, 123456, tzinfo=UTC))
    assert fhir._valid_shape.cache_info().misses == misses
    for _ in range(2):
        with pytest.raises(ValidationError):
            build(datetime(2026, 11, 27, 9, 30))  # no zone, on purpose


def test_an_invalid_item_is_refused_every_time_and_a_valid_one_stays_valid() -> None:
    """Items are validated once per instrument, item and option: an instrument whose option
    would write an empty display (FHIR JSON allows no empty strings) is refused on every
    build, never remembered as checked; the instrument it was copied from still builds."""
    instrument = engine.get("phq-9")
    first = instrument.items[0]
    emptied = tuple(dataclasses.replace(option, display="") for option in first.options)
    broken = dataclasses.replace(
        instrument, items=(dataclasses.replace(first, options=emptied), *instrument.items[1:])
    )
    answers = {item.number: "0" for item in instrument.items}
    ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    for _ in range(2):
        with pytest.raises(ValidationError):
            fhir.questionnaire_response(
                instrument=broken,
                answers=answers,
                result=engine.score(instrument, answers),
                authored=when,
                **ids,
            )
    qr = fhir.questionnaire_response(
        instrument=instrument,
        answers=answers,
        result=engine.score(instrument, answers),
        authored=when,
        **ids,
    )
    QuestionnaireResponse.model_validate(qr)


def test_an_invalid_coded_element_of_an_observation_is_refused() -> None:
    instrument = engine.get("phq-9")
    answers = {item.number: "0" for item in instrument.items}
    ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    result = engine.score(instrument, answers)
    (total,) = fhir.observations(instrument=instrument, result=result, effective=when, **ids)
    for field in ("category", "interpretation"):
        bad = {**total, field: [{"coding": [{"system": "not a uri with spaces", "code": ""}]}]}
        for _ in range(2):
            with pytest.raises(ValidationError):
                fhir._validated_obs(bad)
    with pytest.raises(ValidationError):
        fhir._validated_obs({**total, "effectiveDateTime": "27/11/2026"})


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("PHQ-9 \U0001f600abcd-1234-1234-1234-123456789abc", True),
        ("PHQ-9 \ud83dabcd-1234-1234-1234-123456789abc", False),
        ("PHQ-9 \x1fabcd-1234-1234-1234-123456789abc", True),
        ("PHQ-9 abcdef01-1234-1234-1234-123456789abc", True),
    ],
    ids=["emoji before hex", "lone surrogate before hex", "control before hex", "a UUID"],
)
def test_validation_by_shape_decides_as_full_validation_does(text: str, valid: bool) -> None:
    """A UUID in a string stands for any UUID in the shape; text that only looks like one in
    the JSON (an escape followed by hex digits) is not rewritten, so a valid text is accepted
    and an invalid one refused, exactly as ``Observation.model_validate`` decides."""
    instrument = engine.get("phq-9")
    answers = {item.number: "0" for item in instrument.items}
    ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    (total,) = fhir.observations(
        instrument=instrument, result=engine.score(instrument, answers), effective=when, **ids
    )
    observation = {**total, "code": {**total["code"], "text": text}}
    try:
        Observation.model_validate(observation)
    except ValidationError:
        assert not valid
        with pytest.raises(ValidationError):
            fhir._validated_obs(observation)
    else:
        assert valid
        assert fhir._validated_obs(observation) == observation
