"""Objectives linked to a measure: "PHQ-9 < 10 by week 12" (issue 5).

An objective names an instrument (``measure_code``) and a target written as a comparison with a
number (``target_text``, e.g. ``< 10`` or ``>= 5``), checked against the instrument's score
range. Progress compares the client's latest total with the target; plan reviews show each
instrument's trend since baseline (Joint Commission CTS.03.01.09 EP2: the plan is reviewed
against the client's progress).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iptcare.measures import engine

_TARGET = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
TARGET_HELP = 'A comparison with a score, e.g. "< 10" or ">= 5".'


@dataclass(frozen=True)
class Target:
    op: str
    value: float

    def met_by(self, score: float) -> bool:
        return _OPS[self.op](score, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def parse_target(text: str) -> Target | None:
    match = _TARGET.match(text or "")
    return Target(match.group(1), float(match.group(2))) if match else None


def target_problems(measure_code: str, target_text: str) -> dict[str, str]:
    """Field problems of an objective's measure link (empty when fine or when there is none)."""
    if not measure_code:
        return {"target_text": "Choose a measure for this target."} if target_text else {}
    try:
        instrument = engine.get(measure_code)
    except engine.UnknownInstrument:
        return {"measure_code": "No such instrument."}
    if instrument.total is None:
        return {"measure_code": f"{instrument.title} has no total score to set a target on."}
    if not target_text:
        return {"target_text": f"Set a target. {TARGET_HELP}"}
    target = parse_target(target_text)
    if target is None:
        return {"target_text": TARGET_HELP}
    low, high = instrument.total.min, instrument.total.max
    if not low <= target.value <= high:
        return {"target_text": f"{instrument.title} scores run from {low:g} to {high:g}."}
    return {}


@dataclass(frozen=True)
class Point:
    at: datetime
    total: float


@dataclass(frozen=True)
class Trend:
    code: str
    title: str
    baseline: Point
    latest: Point
    count: int
    outcome: str  # "improved", "deteriorated", "no reliable change", or "" without a rule


def trends(series: Mapping[str, Sequence[Point]]) -> list[Trend]:
    """Baseline-to-latest change per instrument (oldest point first in each series)."""
    out = []
    known = engine.load_all()
    for code, points in sorted(series.items()):
        if code not in known or not points:
            continue
        instrument = known[code]
        first, last = points[0], points[-1]
        outcome = ""
        if instrument.reliable_change is not None and len(points) > 1:
            outcome = engine.reliable_change(instrument, first.total, last.total).outcome
            outcome = outcome.replace("_", " ")
        out.append(Trend(code, instrument.title, first, last, len(points), outcome))
    return out


@dataclass(frozen=True)
class ObjectiveProgress:
    target: Target
    latest: Point | None
    met: bool | None


def objective_progress(
    objectives: Iterable[dict[str, Any]], series: Mapping[str, Sequence[Point]]
) -> dict[str, ObjectiveProgress]:
    """By objective key: the target and whether the latest total meets it."""
    out: dict[str, ObjectiveProgress] = {}
    for o in objectives:
        target = parse_target(str(o.get("target_text") or ""))
        code = str(o.get("measure_code") or "")
        if target is None or not code:
            continue
        points = series.get(code) or []
        latest = points[-1] if points else None
        out[str(o["key"])] = ObjectiveProgress(
            target, latest, None if latest is None else target.met_by(latest.total)
        )
    return out
