"""Shared helpers for the measures tests: answer sets built from the definitions themselves."""

from __future__ import annotations

from iptcare.measures.engine import Instrument, Item, Option


def lowest(item: Item) -> Option:
    return min(item.options, key=lambda o: o.score)


def highest(item: Item) -> Option:
    return max(item.options, key=lambda o: o.score)


def all_min(instrument: Instrument) -> dict[str, str]:
    return {i.number: lowest(i).code for i in instrument.items}


def all_max(instrument: Instrument) -> dict[str, str]:
    return {i.number: highest(i).code for i in instrument.items}


def by_score(instrument: Instrument, scores: dict[str, int]) -> dict[str, str]:
    """Answers that give each item the requested score (the option codes are looked up)."""
    answers = {}
    for number, wanted in scores.items():
        item = instrument.item(number)
        assert item is not None
        answers[number] = next(o.code for o in item.options if o.score == wanted)
    return answers
