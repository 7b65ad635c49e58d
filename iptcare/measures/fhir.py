"""An administration as FHIR R4B JSON: one QuestionnaireResponse and the Observations derived
from it (the total with its LOINC code where the instrument has one; each subscale). Every
resource is validated by ``fhir.resources`` before it is stored, so stored JSON is always valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from iptcare.measures.engine import Instrument, ScoreResult

LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
UCUM = "http://unitsofmeasure.org"


def questionnaire_url(instrument: Instrument) -> str:
    # LOINC publishes its panels as Questionnaires at http://loinc.org/q/<panel>.
    if instrument.loinc_panel:
        return f"{LOINC}/q/{instrument.loinc_panel}"
    return f"urn:iptcare:instrument:{instrument.code}"


# Each resource is built as plain JSON (it never holds an empty array, string or object, which
# FHIR JSON forbids and the test of every instrument checks), validated whole and stored as
# built: the validated model is the check, not the stored form.


def questionnaire_response(
    *,
    instrument: Instrument,
    answers: dict[str, str],
    result: ScoreResult,
    administration_id: UUID,
    client_id: UUID,
    authored: datetime,
) -> dict[str, Any]:
    items = []
    for item in instrument.items:
        code = answers.get(item.number)
        entry: dict[str, Any] = {"linkId": item.number, "text": item.text}
        option = item.option(code) if code is not None else None
        if option is not None:
            entry["answer"] = [{"valueCoding": {"code": option.code, "display": option.display}}]
        items.append(entry)
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(administration_id),
        "questionnaire": questionnaire_url(instrument),
        "status": "completed" if result.complete else "in-progress",
        "subject": {"reference": f"Patient/{client_id}"},
        "authored": authored.isoformat(),
        "item": items,
    }
    QuestionnaireResponse.model_validate(resource)
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
        out.append(obs)
    titles = {s.code: s.title for s in instrument.subscales}
    for code, value in result.subscales.items():
        if value is None:
            continue
        out.append(
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
    for observation in out:
        Observation.model_validate(observation)
    return out
