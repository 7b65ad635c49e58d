"""API shapes for instruments and scoring (``/api/v1/instruments``)."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class OptionOut(Schema):
    code: str
    display: str
    score: int


class ItemOut(Schema):
    number: str
    text: str
    scored: bool
    options: list[OptionOut]


class BandOut(Schema):
    code: str
    min: float
    max: float
    label: str
    client_label: str


class SourceOut(Schema):
    key: str
    citation: str
    year: int
    url: str | None


class InstrumentSummaryOut(Schema):
    code: str
    title: str
    version: str
    items: int
    total_loinc: str | None
    direction: str


class InstrumentOut(Schema):
    code: str
    title: str
    version: str
    description: str
    recall_period: str
    instructions: str
    licence: str
    direction: str
    loinc: dict[str, str | None]
    items: list[ItemOut]
    total: dict[str, Any] | None
    bands: list[BandOut]
    subscales: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    screens: list[dict[str, Any]]
    missing: dict[str, Any]
    reliable_change: dict[str, Any] | None
    sources: list[SourceOut]


class ScoreIn(Schema):
    # Values are checked by the engine, which names each bad item (422), rather than by pydantic.
    answers: dict[str, Any]
    context: dict[str, str] = {}


class BandBriefOut(Schema):
    code: str
    label: str
    client_label: str


class FlagOut(Schema):
    code: str
    severity: str
    message: str
    item: str | None


class ScreenOut(Schema):
    code: str
    label: str
    positive: bool | None
    cutoff: float | None
    by_context: dict[str, bool]


class ScoreOut(Schema):
    instrument: str
    total: float | None
    band: BandBriefOut | None
    subscales: dict[str, float | None]
    flags: list[FlagOut]
    screens: list[ScreenOut]
    complete: bool
    prorated: bool
    missing: list[str]
    item_scores: dict[str, int]
