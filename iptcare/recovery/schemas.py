"""API input and output schemas (separate: inputs never carry ids or server-set fields)."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from ninja import Schema
from pydantic import Field, field_validator

from iptcare.recovery import abstinence
from iptcare.recovery.models import (
    MAX_AMOUNT,
    MAX_NOTE,
    DrugScreen,
    ExpectedBy,
    ReturnSource,
    ReturnToUseEvent,
    ScreenResult,
    ScreenResultValue,
    Specimen,
    UseDay,
    UseDaySource,
)
from iptcare.recovery.selectors import AbstinenceSummary, SubstanceFigures
from iptcare.recovery.substances import Analyte, Substance


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Give a date and time with a time zone offset.")
    return value


class ScreenResultIn(Schema):
    analyte: Analyte
    result: ScreenResultValue
    expected: bool = False
    expected_reason: str = Field(default="", max_length=200)


class DrugScreenIn(Schema):
    collected_at: dt.datetime
    specimen: Specimen
    results: list[ScreenResultIn] = Field(min_length=1, max_length=len(Analyte.values))
    collected_by: UUID | None = None
    notes: str = Field(default="", max_length=MAX_NOTE)

    _aware_collected = field_validator("collected_at")(_aware)


class MarkExpectedIn(Schema):
    version: int
    analytes: list[Analyte] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=200)


class ScreenResultOut(Schema):
    analyte: Analyte
    substance: Substance
    result: ScreenResultValue
    expected: bool
    expected_by: ExpectedBy | None
    expected_reason: str

    @staticmethod
    def of(r: ScreenResult) -> ScreenResultOut:
        return ScreenResultOut(
            analyte=Analyte(r.analyte),
            substance=Substance(r.substance),
            result=ScreenResultValue(r.result),
            expected=r.expected,
            expected_by=ExpectedBy(r.expected_by) if r.expected_by else None,
            expected_reason=r.expected_reason,
        )


class DrugScreenOut(Schema):
    id: UUID
    client: UUID
    episode: UUID | None
    collected_at: dt.datetime
    specimen: Specimen
    collected_by: UUID
    notes: str
    results: list[ScreenResultOut]
    version: int

    @staticmethod
    def of(s: DrugScreen, results: list[ScreenResult]) -> DrugScreenOut:
        return DrugScreenOut(
            id=s.public_id,
            client=s.client.public_id,
            episode=s.episode.public_id if s.episode else None,
            collected_at=s.collected_at,
            specimen=Specimen(s.specimen),
            collected_by=s.collected_by.public_id,
            notes=s.notes,
            results=[ScreenResultOut.of(r) for r in results],
            version=s.version,
        )


class UseDayIn(Schema):
    date: dt.date
    substance: Substance
    used: bool
    amount: str = Field(default="", max_length=MAX_AMOUNT)
    version: int | None = None


class UseDaysIn(Schema):
    start: dt.date
    end: dt.date
    source: UseDaySource
    days: list[UseDayIn] = Field(max_length=366 * len(Substance.values))


class UseDayOut(Schema):
    id: UUID
    date: dt.date
    substance: Substance
    used: bool
    amount: str
    source: UseDaySource
    version: int

    @staticmethod
    def of(d: UseDay) -> UseDayOut:
        return UseDayOut(
            id=d.public_id,
            date=d.date,
            substance=Substance(d.substance),
            used=d.used,
            amount=d.amount,
            source=UseDaySource(d.source),
            version=d.version,
        )


class ReturnToUseIn(Schema):
    date: dt.date
    substance: Substance
    note: str = Field(default="", max_length=MAX_NOTE)
    after_abstinent_days: int | None = Field(default=None, ge=0, le=36_500)


class ReturnToUseOut(Schema):
    id: UUID
    client: UUID
    episode: UUID | None
    date: dt.date
    substance: Substance
    source: ReturnSource
    screen: UUID | None
    after_abstinent_days: int | None
    overdose_risk: bool
    note: str
    created_at: dt.datetime
    withdrawn_at: dt.datetime | None
    withdrawn_reason: str

    @staticmethod
    def of(e: ReturnToUseEvent) -> ReturnToUseOut:
        return ReturnToUseOut(
            id=e.public_id,
            client=e.client.public_id,
            episode=e.episode.public_id if e.episode else None,
            date=e.date,
            substance=Substance(e.substance),
            source=ReturnSource(e.source),
            screen=e.screen.public_id if e.screen else None,
            after_abstinent_days=e.after_abstinent_days,
            overdose_risk=e.overdose_risk,
            note=e.note,
            created_at=e.created_at,
            withdrawn_at=e.withdrawn_at,
            withdrawn_reason=e.withdrawn_reason,
        )


class UseDaysRecordedOut(Schema):
    created: int
    changed: int
    unchanged: int
    days: list[UseDayOut]
    return_to_use_events: list[ReturnToUseOut]
    withdrawn_events: list[UUID]


class FiguresOut(Schema):
    substance: str
    label: str
    days_in_window: int
    days_with_data: int
    days_unknown: int
    days_abstinent: int
    days_used: int
    percent_days_abstinent: float | None
    current_streak: int
    longest_streak: int
    last_day_with_data: dt.date | None

    @staticmethod
    def of(s: SubstanceFigures) -> FiguresOut:
        f: abstinence.Figures = s.figures
        return FiguresOut(
            substance=s.substance,
            label=s.label,
            days_in_window=f.days_in_window,
            days_with_data=f.days_with_data,
            days_unknown=f.days_unknown,
            days_abstinent=f.days_abstinent,
            days_used=f.days_used,
            percent_days_abstinent=f.percent_days_abstinent,
            current_streak=f.current_streak,
            longest_streak=f.longest_streak,
            last_day_with_data=f.last_day_with_data,
        )


class AbstinenceSummaryOut(Schema):
    start: dt.date
    end: dt.date
    any_substance: FiguresOut
    by_substance: list[FiguresOut]

    @staticmethod
    def of(s: AbstinenceSummary) -> AbstinenceSummaryOut:
        return AbstinenceSummaryOut(
            start=s.start,
            end=s.end,
            any_substance=FiguresOut.of(s.any_substance),
            by_substance=[FiguresOut.of(f) for f in s.by_substance],
        )
