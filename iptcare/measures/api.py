"""Instruments over the JSON API: definitions and stateless scoring.

Definitions and scoring touch no client's data (answers are scored and forgotten), so they are
open to every signed-in user or API token and are not audited; administrations, which belong to
a client, go through the access policy.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from iptcare.measures import engine
from iptcare.measures.schemas import InstrumentOut, InstrumentSummaryOut, ScoreIn, ScoreOut

router = Router(tags=["instruments"])


@router.get("/instruments", response=list[InstrumentSummaryOut], summary="All instruments")
def instrument_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "code": i.code,
            "title": i.title,
            "version": i.version,
            "items": len(i.items),
            "total_loinc": i.loinc_total,
            "direction": i.direction,
        }
        for i in sorted(engine.load_all().values(), key=lambda i: i.code)
    ]


@router.get(
    "/instruments/{code}",
    response=InstrumentOut,
    summary="An instrument's definition: items with their options (code, display, score)",
)
def instrument_get(request: HttpRequest, code: str) -> dict[str, Any]:
    return engine.get(code).to_dict()


@router.post(
    "/instruments/{code}/score",
    response=ScoreOut,
    summary="Score answers (item number -> option code); nothing is stored",
)
def instrument_score(request: HttpRequest, code: str, payload: ScoreIn) -> dict[str, Any]:
    instrument = engine.get(code)
    return engine.score(instrument, payload.answers, context=payload.context).to_dict()
