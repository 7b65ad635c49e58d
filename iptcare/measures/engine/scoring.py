"""Scoring answers and judging reliable change, from a definition's data only."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from iptcare.core.errors import InvalidInput
from iptcare.measures.engine.definitions import (
    _OPS,
    Band,
    Instrument,
    InvalidAnswers,
    NoReliableChangeRule,
    Outcome,
    Source,
)
from iptcare.measures.engine.loader import _aggregate


# --- scoring ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Flag:
    code: str
    severity: str
    message: str
    item: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "item": self.item,
        }


@dataclass(frozen=True)
class ScreenResult:
    code: str
    label: str
    positive: bool | None  # None: no score, or the context needed to pick a cutoff is unknown
    cutoff: float | None
    by_context: Mapping[str, bool]  # every cutoff's verdict when the context is unknown

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "positive": self.positive,
            "cutoff": self.cutoff,
            "by_context": dict(self.by_context),
        }


@dataclass(frozen=True)
class ScoreResult:
    instrument: str
    total: float | None
    band: Band | None
    subscales: Mapping[str, float | None]
    flags: tuple[Flag, ...]
    screens: tuple[ScreenResult, ...]
    complete: bool
    prorated: bool
    missing: tuple[str, ...]
    item_scores: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "total": self.total,
            "band": None
            if self.band is None
            else {
                "code": self.band.code,
                "label": self.band.label,
                "client_label": self.band.client_label,
            },
            "subscales": dict(self.subscales),
            "flags": [f.to_dict() for f in self.flags],
            "screens": [s.to_dict() for s in self.screens],
            "complete": self.complete,
            "prorated": self.prorated,
            "missing": list(self.missing),
            "item_scores": dict(self.item_scores),
        }


def _check_answers(instrument: Instrument, answers: object) -> dict[str, int]:
    if not isinstance(answers, Mapping):
        raise InvalidAnswers({"answers": "must be an object mapping item numbers to option codes"})
    errors: dict[str, str] = {}
    scores: dict[str, int] = {}
    numbers = ", ".join(i.number for i in instrument.items)
    unknown: list[str] = []
    for key, value in answers.items():
        # A key that is no item of the instrument is named in the message, under "answers":
        # it is not a field of the instrument, and error keys are field names (an audit event
        # records them; a submitted key is a submitted value).
        if not isinstance(key, str):
            unknown.append(f'item numbers must be strings such as "1", not {key!r}')
            continue
        item = instrument.item(key)
        if item is None:
            unknown.append(f"{instrument.title} has no item {key!r} (items: {numbers})")
        elif not isinstance(value, str):
            errors[key] = f"the answer to item {key} must be an option code (a string)"
        elif (opt := item.option(value)) is None:
            codes = ", ".join(repr(o.code) for o in item.options)
            errors[key] = f"{value!r} is not an option for item {key} (options: {codes})"
        else:
            scores[key] = opt.score
    if unknown:
        errors["answers"] = "; ".join(unknown)
    if errors:
        raise InvalidAnswers(errors)
    return scores


def score(
    instrument: Instrument,
    answers: Mapping[str, str],
    *,
    context: Mapping[str, str] | None = None,
) -> ScoreResult:
    """Score one administration. ``answers`` maps item number to option code; unanswered items are
    simply absent. ``context`` carries facts some rules need (e.g. ``{"sex": "female"}``)."""
    scores = _check_answers(instrument, answers)
    if context is not None and not (
        isinstance(context, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in context.items())
    ):
        raise InvalidAnswers({"context": 'must map names to strings, e.g. {"sex": "female"}'})
    missing = tuple(i.number for i in instrument.items if i.number not in scores)
    scored = [i for i in instrument.items if i.scored]
    answered = [scores[i.number] for i in scored if i.number in scores]
    n_missing = len(scored) - len(answered)

    total: float | None = None
    prorated = False
    rule = instrument.total
    if rule is not None and answered:
        if n_missing == 0:
            total = _aggregate(answered, rule.aggregation)
        elif instrument.missing.rule == "prorate" and n_missing <= instrument.missing.max_missing:
            prorated = True
            mean = Fraction(sum(answered), len(answered))
            # Round half up: the published prorating rules round the prorated sum to a whole score.
            total = (
                math.floor(mean * len(scored) + Fraction(1, 2))
                if rule.aggregation == "sum"
                else float(mean)
            )
    band = (
        None
        if total is None
        else next((b for b in instrument.bands if b.min <= total <= b.max), None)
    )
    subscales: dict[str, float | None] = {
        s.code: _aggregate([scores[x] for x in s.items], s.aggregation)
        if all(x in scores for x in s.items)
        else None
        for s in instrument.subscales
    }

    def value_of(target: str) -> float | None:
        kind, _, name = target.partition(":")
        if kind == "total":
            return total
        if kind == "item":
            return scores.get(name)
        return subscales.get(name)

    flags = []
    for f in instrument.flags:
        v = value_of(f.target)
        if v is not None and _OPS[f.op](v, f.value):
            item = f.target.partition(":")[2] if f.target.startswith("item:") else None
            flags.append(Flag(f.code, f.severity, f.message, item))

    screens = []
    for s in instrument.screens:
        v = value_of(s.target)
        by_context: dict[str, bool] = {}
        positive: bool | None = None
        cutoff: float | None = None
        if v is not None:
            wanted = None if s.context_key is None else (context or {}).get(s.context_key)
            chosen = next((c for c in s.cutoffs if c.context == wanted), None)
            if chosen is not None:
                positive, cutoff = v >= chosen.min, chosen.min
            else:
                by_context = {str(c.context): v >= c.min for c in s.cutoffs}
        screens.append(ScreenResult(s.code, s.label, positive, cutoff, by_context))

    return ScoreResult(
        instrument=instrument.code,
        total=total,
        band=band,
        subscales=subscales,
        flags=tuple(flags),
        screens=tuple(screens),
        complete=not missing,
        prorated=prorated,
        missing=missing,
        item_scores=scores,
    )


# --- reliable change ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReliableChange:
    outcome: Outcome
    change: float  # after - before, in points
    threshold: float  # points needed for a reliable change
    method: str
    source: Source

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "change": self.change,
            "threshold": self.threshold,
            "method": self.method,
            "source": self.source.to_dict(),
        }


def reliable_change(instrument: Instrument, before: float, after: float) -> ReliableChange:
    """Classify the change between two totals using the instrument's published rule."""
    rule, total = instrument.reliable_change, instrument.total
    if rule is None or total is None:
        raise NoReliableChangeRule(
            f"{instrument.title} has no published reliable-change rule here."
        )
    errors = {
        name: f"must be a total between {total.min} and {total.max}"
        for name, v in (("before", before), ("after", after))
        if isinstance(v, bool) or not isinstance(v, int | float) or not total.min <= v <= total.max
    }
    if errors:
        raise InvalidInput("Totals out of range.", field_errors={k: [m] for k, m in errors.items()})
    change = after - before
    points = rule.points
    # A published threshold counts a change "of N or more"; J&T needs |RC| strictly above 1.96.
    reliable = abs(change) >= points if rule.method == "threshold" else abs(change) > points
    better = change < 0 if instrument.direction == "lower_is_better" else change > 0
    outcome: Outcome = (
        "no_reliable_change" if not reliable else "improved" if better else "deteriorated"
    )
    return ReliableChange(outcome, change, points, rule.method, instrument.source(rule.source))
