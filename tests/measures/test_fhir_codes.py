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


def test_the_resources_are_the_json_as_built() -> None:
    """Validation leaves the JSON as built, field for field and in order (it is stored so)."""
    instrument = engine.get("phq-9")
    answers = {item.number: "1" for item in instrument.items}
    result = engine.score(instrument, answers)
    assert result.total is not None and result.band is not None
    administration_id, client_id = uuid.uuid4(), uuid.uuid4()
    ids = {"administration_id": administration_id, "client_id": client_id}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)

    qr = fhir.questionnaire_response(
        instrument=instrument, answers=answers, result=result, authored=when, **ids
    )
    (total,) = fhir.observations(instrument=instrument, result=result, effective=when, **ids)

    first = instrument.items[0]
    fields = ["resourceType", "id", "questionnaire", "status", "subject", "authored", "item"]
    assert list(qr) == fields
    assert {**qr, "item": qr["item"][:1]} == {
        "resourceType": "QuestionnaireResponse",
        "id": str(administration_id),
        "questionnaire": "http://loinc.org/q/44249-1",
        "status": "completed",
        "subject": {"reference": f"Patient/{client_id}"},
        "authored": "2026-11-27T09:30:00+00:00",
        "item": [
            {
                "linkId": first.number,
                "text": first.text,
                "answer": [{"valueCoding": {"code": "1", "display": first.options[1].display}}],
            }
        ],
    }
    assert total == {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": fhir.OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}
                ]
            }
        ],
        "subject": {"reference": f"Patient/{client_id}"},
        "effectiveDateTime": "2026-11-27T09:30:00+00:00",
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{administration_id}"}],
        "id": f"{administration_id}-total",
        "code": {
            "text": f"{instrument.title} total score",
            "coding": [
                {"system": fhir.LOINC, "code": "44261-6", "display": f"{instrument.title} total"}
            ],
        },
        "valueQuantity": {
            "value": result.total,
            "unit": "{score}",
            "system": fhir.UCUM,
            "code": "{score}",
        },
        "interpretation": [{"text": result.band.label}],
    }


@pytest.mark.parametrize("code", sorted(engine.load_all()))
def test_every_option_of_every_instrument_gives_valid_resources(code: str) -> None:
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


def test_an_invalid_questionnaire_response_is_refused() -> None:
    """An option without a display would write an empty string, which FHIR JSON forbids, and a
    time of day needs its zone: neither resource is returned."""
    instrument = engine.get("phq-9")
    first = instrument.items[0]
    emptied = tuple(dataclasses.replace(option, display="") for option in first.options)
    broken = dataclasses.replace(
        instrument, items=(dataclasses.replace(first, options=emptied), *instrument.items[1:])
    )
    answers = {item.number: "0" for item in instrument.items}
    result = engine.score(instrument, answers)
    ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    with pytest.raises(ValidationError):
        fhir.questionnaire_response(
            instrument=broken, answers=answers, result=result, authored=when, **ids
        )
    with pytest.raises(ValidationError):
        fhir.questionnaire_response(
            instrument=instrument,
            answers=answers,
            result=result,
            authored=when.replace(tzinfo=None),
            **ids,
        )
    fhir.questionnaire_response(
        instrument=instrument, answers=answers, result=result, authored=when, **ids
    )


def test_an_invalid_observation_is_refused() -> None:
    """A band without a label would write an empty interpretation, and a time of day needs its
    zone: no Observation is returned."""
    instrument = engine.get("phq-9")
    answers = {item.number: "0" for item in instrument.items}
    result = engine.score(instrument, answers)
    assert result.band is not None
    unlabelled = dataclasses.replace(result, band=dataclasses.replace(result.band, label=""))
    ids = {"administration_id": uuid.uuid4(), "client_id": uuid.uuid4()}
    when = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    with pytest.raises(ValidationError):
        fhir.observations(instrument=instrument, result=unlabelled, effective=when, **ids)
    with pytest.raises(ValidationError):
        fhir.observations(
            instrument=instrument, result=result, effective=when.replace(tzinfo=None), **ids
        )
    fhir.observations(instrument=instrument, result=result, effective=when, **ids)
