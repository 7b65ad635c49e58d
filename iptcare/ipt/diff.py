"""What changed in the interpersonal inventory between two revisions (a pure function).

People are matched by their stable ``person_key``. A ring change towards the centre is "closer".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

RING_ORDER = {"inner": 0, "middle": 1, "outer": 2}
SUBSTANCE_FLAGS = ("uses_with_client", "knows_about_use")


class PersonLike(Protocol):
    @property
    def person_key(self) -> UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def ring(self) -> str: ...
    @property
    def supports_recovery(self) -> bool: ...
    @property
    def is_risk(self) -> bool: ...
    @property
    def uses_with_client(self) -> bool: ...
    @property
    def knows_about_use(self) -> str: ...


@dataclass(frozen=True)
class RingMove:
    person_key: UUID
    name: str
    from_ring: str
    to_ring: str


@dataclass(frozen=True)
class FlagChange:
    person_key: UUID
    name: str
    flag: str
    before: object
    after: object


@dataclass(frozen=True)
class InventoryDiff:
    closer: list[RingMove] = field(default_factory=list)
    further: list[RingMove] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    newly_supportive: list[str] = field(default_factory=list)
    newly_risk: list[str] = field(default_factory=list)
    substance_changes: list[FlagChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.closer,
                self.further,
                self.left,
                self.new,
                self.newly_supportive,
                self.newly_risk,
                self.substance_changes,
            )
        )


def inventory_diff(first: Iterable[PersonLike], latest: Iterable[PersonLike]) -> InventoryDiff:
    before = {p.person_key: p for p in first}
    after = {p.person_key: p for p in latest}
    diff = InventoryDiff()
    for key, old in before.items():
        if key not in after:
            diff.left.append(old.name)
    for key, now in after.items():
        was = before.get(key)
        if was is None:
            diff.new.append(now.name)
            continue
        step = RING_ORDER[now.ring] - RING_ORDER[was.ring]
        if step:
            move = RingMove(key, now.name, was.ring, now.ring)
            (diff.closer if step < 0 else diff.further).append(move)
        if now.supports_recovery and not was.supports_recovery:
            diff.newly_supportive.append(now.name)
        if now.is_risk and not was.is_risk:
            diff.newly_risk.append(now.name)
        for flag in SUBSTANCE_FLAGS:
            before_value, after_value = getattr(was, flag), getattr(now, flag)
            if before_value != after_value:
                diff.substance_changes.append(
                    FlagChange(key, now.name, flag, before_value, after_value)
                )
    return diff


FLAG_WORDS = {
    "uses_with_client": "uses substances with or around the client",
    "knows_about_use": "knows about the client's substance use",
}


def _value_words(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def diff_summary(diff: InventoryDiff) -> list[tuple[str, list[str]]]:
    """The diff in words, as (heading, lines) pairs, leaving out empty headings."""
    sections = [
        (
            "Moved closer",
            [f"{m.name}: {m.from_ring} → {m.to_ring} ring" for m in diff.closer],
        ),
        (
            "Moved further away",
            [f"{m.name}: {m.from_ring} → {m.to_ring} ring" for m in diff.further],
        ),
        ("No longer in the inventory", list(diff.left)),
        ("New in the inventory", list(diff.new)),
        ("Newly supports recovery", list(diff.newly_supportive)),
        ("Newly a risk to recovery", list(diff.newly_risk)),
        (
            "Substance-use changes",
            [
                f"{c.name} {FLAG_WORDS[c.flag]}: {_value_words(c.before)} → {_value_words(c.after)}"
                for c in diff.substance_changes
            ],
        ),
    ]
    return [(heading, lines) for heading, lines in sections if lines]
