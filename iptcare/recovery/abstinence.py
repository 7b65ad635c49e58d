"""Abstinence figures and return-to-use detection from days of use. Pure: no database.

The input is a *day map*: ``{date: used}`` where ``used`` is ``True`` (a day of use) or ``False``
(a day recorded as abstinent). **A day that is not in the map is unknown, not abstinent.** The
Timeline Followback records what the client recalls day by day (Sobell & Sobell, "Timeline
Follow-Back: A technique for assessing self-reported alcohol consumption", 1992); a day nobody
asked about tells us nothing, and counting it as abstinent would flatter every figure. So:

- percent days abstinent (PDA) is computed over the days *with data* in the window, and the
  number of those days is always reported beside it (no data → no PDA, ``None``);
- an unknown day breaks a streak of abstinence, like a day of use does, but is not one;
- the abstinent days before a return to use are the *known* abstinent days immediately before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

DayMap = Mapping[date, bool]

# Issue 5 / DOMAIN.md §3: a return to opioid use after >= 7 days of abstinence carries overdose
# risk (naloxone prompt). Why: tolerance falls during abstinence, so a former dose can be fatal —
# SAMHSA Opioid Overdose Prevention Toolkit (2018), "who is at risk": those who "have completed
# opioid detoxification or are abstinent for a period of time (and presumably have reduced
# opioid tolerance)"; AHRQ Academy OUD playbook, "Overdose risk". The 7-day threshold itself is
# this product's rule (issue 5), not a published cut-off.
OVERDOSE_RISK_MIN_ABSTINENT_DAYS = 7
# A use day counts as a return to use when at least this many known abstinent days precede it.
# ASAM's definition of "return to use" sets no minimum; one known abstinent day is the least
# that makes a use a *return*. Consumers (alerts) may ask for longer runs via the stored count.
RETURN_MIN_ABSTINENT_DAYS = 1


@dataclass(frozen=True)
class Figures:
    """Abstinence over a window ``start``..``end`` (both inclusive)."""

    start: date
    end: date
    days_in_window: int
    days_with_data: int
    days_abstinent: int
    days_used: int
    # 100 * abstinent / with data, rounded to 1 decimal; None when no day has data.
    percent_days_abstinent: float | None
    # Consecutive abstinent days ending at ``last_day_with_data`` (0 if that day was a use day).
    current_streak: int
    longest_streak: int
    last_day_with_data: date | None

    @property
    def days_unknown(self) -> int:
        return self.days_in_window - self.days_with_data


@dataclass(frozen=True)
class ReturnToUse:
    day: date
    abstinent_days_before: int


def merge(day_maps: Iterable[DayMap]) -> dict[date, bool]:
    """Several day maps as one ("any substance", or a class such as opioids).

    A day is a use day if any map says so, abstinent if at least one map has it and none says
    use, and unknown if no map has it.
    """
    merged: dict[date, bool] = {}
    for day_map in day_maps:
        for day, used in day_map.items():
            merged[day] = merged.get(day, False) or used
    return merged


def _days(start: date, end: date) -> Iterable[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def figures(day_map: DayMap, *, start: date, end: date) -> Figures:
    """Percent days abstinent, current and longest abstinence streak over ``start``..``end``.

    An empty window (``end`` before ``start``) has no days and no figures.
    """
    days_in_window = max(0, (end - start).days + 1)
    with_data = abstinent = longest = run = 0
    last_known: date | None = None
    for day in _days(start, end):
        used = day_map.get(day)
        if used is None:
            run = 0
            continue
        with_data += 1
        last_known = day
        if used:
            run = 0
        else:
            abstinent += 1
            run += 1
            longest = max(longest, run)
    # Counted back from the last day with data: unknown days after it end the window, not the
    # streak (today is often not asked about yet).
    current = 0
    if last_known is not None and not day_map[last_known]:
        current = abstinent_run_before(day_map, last_known + timedelta(days=1), floor=start)
    return Figures(
        start=start,
        end=end,
        days_in_window=days_in_window,
        days_with_data=with_data,
        days_abstinent=abstinent,
        days_used=with_data - abstinent,
        percent_days_abstinent=round(100 * abstinent / with_data, 1) if with_data else None,
        current_streak=current,
        longest_streak=longest,
        last_day_with_data=last_known,
    )


def abstinent_run_before(day_map: DayMap, day: date, *, floor: date | None = None) -> int:
    """Known abstinent days immediately before ``day`` (stops at a use day, an unknown day, or
    before ``floor``)."""
    run = 0
    cursor = day - timedelta(days=1)
    while day_map.get(cursor) is False and (floor is None or cursor >= floor):
        run += 1
        cursor -= timedelta(days=1)
    return run


def returns_to_use(
    day_map: DayMap, *, min_abstinent_days: int = RETURN_MIN_ABSTINENT_DAYS
) -> list[ReturnToUse]:
    """Every use day preceded by at least ``min_abstinent_days`` known abstinent days, in order.

    Only the first day of a run of use is a return: the day after a use day has no abstinent
    days before it. A use day after unknown days is not a return either — we do not know that
    the client was abstinent.
    """
    found: list[ReturnToUse] = []
    for day in sorted(d for d, used in day_map.items() if used):
        run = abstinent_run_before(day_map, day)
        if run >= max(1, min_abstinent_days):
            found.append(ReturnToUse(day=day, abstinent_days_before=run))
    return found


def carries_overdose_risk(*, opioid: bool, abstinent_days_before: int | None) -> bool:
    """An opioid return to use after >= 7 known abstinent days (see the constant's sources)."""
    return (
        opioid
        and abstinent_days_before is not None
        and abstinent_days_before >= OVERDOSE_RISK_MIN_ABSTINENT_DAYS
    )
