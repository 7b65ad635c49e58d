"""Instrument definitions: the dataclasses a TOML file becomes, and the engine's errors."""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from iptcare.core.errors import DomainError, InvalidInput, NotFound

INSTRUMENTS_DIR = Path(__file__).resolve().parent.parent / "instruments"
SCHEMA_VERSION = 1

Aggregation = Literal["sum", "mean"]
Direction = Literal["lower_is_better", "higher_is_better"]
Outcome = Literal["improved", "deteriorated", "no_reliable_change"]

_CODE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_LOINC_RE = re.compile(r"^[0-9]{1,7}-[0-9]$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
}
RC_Z = 1.96  # Jacobson & Truax (1991): a change is reliable when |RC| > 1.96


# --- errors -------------------------------------------------------------------------------------
class DefinitionError(Exception):
    """An instrument file is malformed; ``problems`` lists every problem, each with its path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class UnknownInstrument(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(f"No instrument with code {code!r}.")
        self.code = code


class InvalidAnswers(InvalidInput):
    """Bad answers: ``errors`` maps each bad item number (or answers/context) to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(
            "Some answers are not valid.",
            field_errors={f"answers.{key}": [msg] for key, msg in errors.items()},
        )
        self.errors = errors


class NoReliableChangeRule(DomainError):
    status = 422
    title = "No reliable-change rule"


# --- the definition -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    key: str
    citation: str
    year: int
    url: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "citation": self.citation, "year": self.year, "url": self.url}


@dataclass(frozen=True)
class Option:
    code: str
    display: str
    score: int

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "display": self.display, "score": self.score}


@dataclass(frozen=True)
class Item:
    number: str
    text: str
    options: tuple[Option, ...]
    scored: bool = True

    def option(self, code: str) -> Option | None:
        return next((o for o in self.options if o.code == code), None)

    @property
    def min_score(self) -> int:
        return min(o.score for o in self.options)

    @property
    def max_score(self) -> int:
        return max(o.score for o in self.options)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "text": self.text,
            "scored": self.scored,
            "options": [o.to_dict() for o in self.options],
        }


@dataclass(frozen=True)
class TotalRule:
    aggregation: Aggregation
    min: float
    max: float
    source: str


@dataclass(frozen=True)
class Band:
    code: str
    min: float
    max: float
    label: str
    client_label: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "min": self.min,
            "max": self.max,
            "label": self.label,
            "client_label": self.client_label,
        }


@dataclass(frozen=True)
class Subscale:
    code: str
    title: str
    items: tuple[str, ...]
    aggregation: Aggregation
    source: str


@dataclass(frozen=True)
class FlagRule:
    code: str
    severity: str
    message: str
    target: str  # "total", "item:<number>" or "subscale:<code>"
    op: str
    value: float
    source: str


@dataclass(frozen=True)
class Cutoff:
    min: float
    context: str | None


@dataclass(frozen=True)
class ScreenRule:
    code: str
    label: str
    target: str
    context_key: str | None
    cutoffs: tuple[Cutoff, ...]
    source: str


@dataclass(frozen=True)
class ReliableChangeRule:
    method: Literal["threshold", "jacobson_truax"]
    threshold: float | None
    sd: float | None
    reliability: float | None
    source: str

    @property
    def points(self) -> float:
        """The smallest change in points that counts as reliable (for J&T: 1.96 x S_diff)."""
        if self.method == "threshold":
            assert self.threshold is not None
            return self.threshold
        assert self.sd is not None and self.reliability is not None
        return RC_Z * math.sqrt(2) * self.sd * math.sqrt(1 - self.reliability)


@dataclass(frozen=True)
class MissingRule:
    rule: Literal["no_total", "prorate"]
    max_missing: int
    source: str | None
    note: str


@dataclass(frozen=True)
class Instrument:
    code: str
    title: str
    version: str
    description: str
    recall_period: str
    instructions: str
    licence: str
    direction: Direction
    scoring_source: str
    sources: tuple[Source, ...]
    items: tuple[Item, ...]
    missing: MissingRule
    total: TotalRule | None
    bands: tuple[Band, ...]
    subscales: tuple[Subscale, ...]
    flags: tuple[FlagRule, ...]
    screens: tuple[ScreenRule, ...]
    reliable_change: ReliableChangeRule | None
    loinc_panel: str | None
    loinc_total: str | None

    def item(self, number: str) -> Item | None:
        return next((i for i in self.items if i.number == number), None)

    def source(self, key: str) -> Source:
        return next(s for s in self.sources if s.key == key)

    def to_dict(self) -> dict[str, Any]:
        total = self.total
        rc = self.reliable_change
        return {
            "code": self.code,
            "title": self.title,
            "version": self.version,
            "description": self.description,
            "recall_period": self.recall_period,
            "instructions": self.instructions,
            "licence": self.licence,
            "direction": self.direction,
            "loinc": {"panel": self.loinc_panel, "total": self.loinc_total},
            "items": [i.to_dict() for i in self.items],
            "total": None
            if total is None
            else {"aggregation": total.aggregation, "min": total.min, "max": total.max},
            "bands": [b.to_dict() for b in self.bands],
            "subscales": [
                {
                    "code": s.code,
                    "title": s.title,
                    "items": list(s.items),
                    "aggregation": s.aggregation,
                }
                for s in self.subscales
            ],
            "flags": [
                {
                    "code": f.code,
                    "severity": f.severity,
                    "message": f.message,
                    "target": f.target,
                    "op": f.op,
                    "value": f.value,
                }
                for f in self.flags
            ],
            "screens": [
                {
                    "code": s.code,
                    "label": s.label,
                    "target": s.target,
                    "context_key": s.context_key,
                    "cutoffs": [{"context": c.context, "min": c.min} for c in s.cutoffs],
                }
                for s in self.screens
            ],
            "missing": {
                "rule": self.missing.rule,
                "max_missing": self.missing.max_missing,
                "note": self.missing.note,
            },
            "reliable_change": None
            if rc is None
            else {"method": rc.method, "points": rc.points, "source": rc.source},
            "sources": [s.to_dict() for s in self.sources],
        }
