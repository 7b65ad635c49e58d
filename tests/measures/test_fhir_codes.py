"""The LOINC codes each instrument file declares reach the FHIR JSON, and the JSON validates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

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
