"""An administration as FHIR R4B JSON: one QuestionnaireResponse and the Observations derived
from it (the total with its LOINC code where the instrument has one; each subscale). Every
resource is validated by ``fhir.resources`` before it is stored, so stored JSON is always valid.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from fhir.resources.R4B import fhirtypes
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse,
    QuestionnaireResponseItem,
)
from pydantic import BaseModel, TypeAdapter

from iptcare.measures.engine import Instrument, ScoreResult

LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"


def questionnaire_url(instrument: Instrument) -> str:
    # LOINC publishes its panels as Questionnaires at http://loinc.org/q/<panel>.
    if instrument.loinc_panel:
        return f"{LOINC}/q/{instrument.loinc_panel}"
    return f"urn:iptcare:instrument:{instrument.code}"


# The JSON built here is validated and then stored as built (plain JSON types already; it never
# holds an empty array, string or object, which FHIR JSON forbids and the test of every
# instrument checks): re-serialising the validated model would cost as much again.
#
# Validation is by element. What ``fhir.resources`` checks of an element (its fields' types,
# required fields, choice types, no empty strings) depends on that element alone, so a resource
# is valid exactly when its own fields and each element of its repeated fields are. A repeated
# element built from the instrument file (a QuestionnaireResponse item with its answer, an
# Observation's category or interpretation) takes one of a few values per instrument, so each
# distinct one is validated once per process (an item by its instrument, item and option,
# ``_checked_items``; other elements by their exact JSON, ``_valid_element``; a failure is not
# remembered and raises every time). Submitting spent most of its FHIR time re-validating the
# same items (bench/README.md).
#
# A resource itself (its own fields, elements but the repeated ones) is validated by its shape
# (``_validated_shape``): its JSON with every UUID in its strings written as the nil UUID
# (``_nil_uuids``) and its time as a fixed time, once per distinct shape; then each value the shape
# stood in for, by its own FHIR type (the resource's id, the references, the time). That is the
# resource's whole validation: the resource-level rules (required fields, choice types, no nulls)
# depend on which fields are there, not on their values, and a FHIR id, string or uri accepts one
# UUID exactly when it accepts any other (their patterns do not tell hex digits apart). Per submit
# this leaves a few pattern checks where a whole Observation (about fifty fields, each a Python
# validator in fhir_core) was validated again.


@lru_cache(maxsize=8192)
def _valid_element(model: type[BaseModel], data: str) -> None:
    model.model_validate(json.loads(data))


def _validated(
    model: type[BaseModel], elements: type[BaseModel], data: dict[str, Any], *fields: str
) -> None:
    """``model.model_validate(data)``, with the lists in ``fields`` checked element by element
    (each an ``elements``) through the cache."""
    repeated = [f for f in fields if isinstance(data.get(f), list)]
    model.model_validate({k: v for k, v in data.items() if k not in repeated})
    for field in repeated:
        for element in data[field]:
            _valid_element(elements, json.dumps(element, sort_keys=True))


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NIL_UUID = "00000000-0000-0000-0000-000000000000"
_SHAPE_TIME = "2000-01-01T00:00:00+00:00"
_ID = TypeAdapter(fhirtypes.IdType)
_STRING = TypeAdapter(fhirtypes.StringType)
_DATE_TIME = TypeAdapter(fhirtypes.DateTimeType)


def _nil_uuids(value: Any) -> Any:
    """``value`` with every UUID in its strings written as the nil UUID. On the values, not on
    their JSON: there an escape (``\\ud83d``, ``\\u001f``) followed by hex digits would read as
    part of a UUID and be rewritten, changing what the shape stands for."""
    if isinstance(value, str):
        return _UUID.sub(_NIL_UUID, value) if "-" in value else value
    if isinstance(value, dict):
        return {key: _nil_uuids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nil_uuids(item) for item in value]
    return value


@lru_cache(maxsize=4096)
def _valid_shape(
    model: type[BaseModel], elements: type[BaseModel], fields: tuple[str, ...], shape: str
) -> None:
    _validated(model, elements, json.loads(shape), *fields)


def _validated_shape(
    model: type[BaseModel],
    elements: type[BaseModel],
    data: dict[str, Any],
    time: str,
    *fields: str,
) -> None:
    """``_validated(model, elements, data, *fields)``, the resource by its shape (see above):
    ``time`` names its time field; its id and the ``reference`` of its subject and of each
    ``derivedFrom`` are checked on their own."""
    shape = _nil_uuids({**data, time: _SHAPE_TIME} if time in data else data)
    _valid_shape(model, elements, fields, json.dumps(shape, sort_keys=True))
    if time in data:
        _DATE_TIME.validate_python(data[time])
    if "id" in data:
        _ID.validate_python(data["id"])
    for reference in (data.get("subject"), *data.get("derivedFrom", ())):
        if isinstance(reference, dict) and "reference" in reference:
            _STRING.validate_python(reference["reference"])


# A QuestionnaireResponse item is fixed by the instrument, the item and the chosen option: per
# instrument (by identity; the instrument is held so its id is never reused), the (item number,
# option code) pairs whose item has been validated. Checking a pair is a set lookup, where
# writing the item's JSON as a cache key cost about as much as validating the resource.
_CHECKED_ITEMS: dict[int, tuple[Instrument, set[tuple[str, str | None]]]] = {}


def _checked_items(instrument: Instrument) -> set[tuple[str, str | None]]:
    held = _CHECKED_ITEMS.get(id(instrument))
    if held is None or held[0] is not instrument:
        held = _CHECKED_ITEMS[id(instrument)] = (instrument, set())
    return held[1]


def _validated_qr(data: dict[str, Any]) -> dict[str, Any]:
    _validated(QuestionnaireResponse, QuestionnaireResponseItem, data, "item")
    return data


def _validated_obs(data: dict[str, Any]) -> dict[str, Any]:
    _validated_shape(
        Observation, CodeableConcept, data, "effectiveDateTime", "category", "interpretation"
    )
    return data


def questionnaire_response(
    *,
    instrument: Instrument,
    answers: dict[str, str],
    result: ScoreResult,
    administration_id: UUID,
    client_id: UUID,
    authored: datetime,
) -> dict[str, Any]:
    checked = _checked_items(instrument)
    items = []
    for item in instrument.items:
        code = answers.get(item.number)
        entry: dict[str, Any] = {"linkId": item.number, "text": item.text}
        option = item.option(code) if code is not None else None
        if option is not None:
            entry["answer"] = [{"valueCoding": {"code": option.code, "display": option.display}}]
        pair = (item.number, option.code if option is not None else None)
        if pair not in checked:
            QuestionnaireResponseItem.model_validate(entry)
            checked.add(pair)
        items.append(entry)
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(administration_id),
        "questionnaire": questionnaire_url(instrument),
        "status": "completed" if result.complete else "in-progress",
        "subject": {"reference": f"Patient/{client_id}"},
        "authored": authored.isoformat(),
    }
    # Its items were validated above.
    _validated_shape(QuestionnaireResponse, QuestionnaireResponseItem, resource, "authored")
    resource["item"] = items
    return resource


def observations(
    *,
    instrument: Instrument,
    result: ScoreResult,
    administration_id: UUID,
    client_id: UUID,
    effective: datetime,
) -> list[dict[str, Any]]:
    """The total (if computed) and each subscale, derived from the QuestionnaireResponse."""
    common: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}
        ],
        "subject": {"reference": f"Patient/{client_id}"},
        "effectiveDateTime": effective.isoformat(),
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{administration_id}"}],
    }
    out: list[dict[str, Any]] = []
    if result.total is not None:
        total_code: dict[str, Any] = {"text": f"{instrument.title} total score"}
        if instrument.loinc_total:  # FHIR JSON allows no empty arrays: no coding without a code
            total_code["coding"] = [
                {
                    "system": LOINC,
                    "code": instrument.loinc_total,
                    "display": f"{instrument.title} total",
                }
            ]
        obs = {
            **common,
            "id": f"{administration_id}-total",
            "code": total_code,
            "valueQuantity": {
                "value": result.total,
                "unit": "{score}",
                "system": UCUM,
                "code": "{score}",
            },
        }
        if result.band is not None:
            obs["interpretation"] = [{"text": result.band.label}]
        out.append(_validated_obs(obs))
    titles = {s.code: s.title for s in instrument.subscales}
    for code, value in result.subscales.items():
        if value is None:
            continue
        out.append(
            _validated_obs(
                {
                    **common,
                    "id": f"{administration_id}-{code}",
                    "code": {"text": f"{instrument.title}: {titles.get(code, code)}"},
                    "valueQuantity": {
                        "value": value,
                        "unit": "{score}",
                        "system": UCUM,
                        "code": "{score}",
                    },
                }
            )
        )
    return out
