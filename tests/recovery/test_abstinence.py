"""The pure abstinence rules, table-driven at their boundaries.

Patterns are one letter a day, oldest first: 'u' a day of use, 'a' abstinent, '.' unknown (no
entry). Day 0 of a pattern is START.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from iptcare.recovery import abstinence
from iptcare.recovery.abstinence import ReturnToUse

START = date(2026, 3, 1)


def day_map(pattern: str, start: date = START) -> dict[date, bool]:
    return {start + timedelta(days=i): c == "u" for i, c in enumerate(pattern) if c != "."}


def d(i: int) -> date:
    return START + timedelta(days=i)


@pytest.mark.parametrize(
    ("pattern", "with_data", "abstinent", "pda", "current", "longest", "last"),
    [
        ("", 0, 0, None, 0, 0, None),  # nothing recorded in the window
        ("....", 0, 0, None, 0, 0, None),  # unknown days are not abstinent
        ("aaaa", 4, 4, 100.0, 4, 4, 3),
        ("uuuu", 4, 0, 0.0, 0, 0, 3),
        ("aau.", 3, 2, 66.7, 0, 2, 2),  # the last day with data was a use day
        ("a.aa", 3, 3, 100.0, 2, 2, 3),  # an unknown day breaks the streak
        ("aaa..", 3, 3, 100.0, 3, 3, 2),  # trailing unknown days: streak up to the last data
        ("uaaau.aa", 7, 5, 71.4, 2, 3, 7),
        ("a", 1, 1, 100.0, 1, 1, 0),
        ("u", 1, 0, 0.0, 0, 0, 0),
    ],
)
def test_figures(
    pattern: str,
    with_data: int,
    abstinent: int,
    pda: float | None,
    current: int,
    longest: int,
    last: int | None,
) -> None:
    end = START + timedelta(days=max(len(pattern), 1) - 1)
    f = abstinence.figures(day_map(pattern), start=START, end=end)
    assert f.days_in_window == max(len(pattern), 1)
    assert (f.days_with_data, f.days_abstinent, f.days_used) == (
        with_data,
        abstinent,
        with_data - abstinent,
    )
    assert f.days_unknown == f.days_in_window - with_data
    assert f.percent_days_abstinent == pda
    assert (f.current_streak, f.longest_streak) == (current, longest)
    assert f.last_day_with_data == (d(last) if last is not None else None)


def test_figures_count_only_the_window() -> None:
    m = day_map("uuaaaaaauu")
    f = abstinence.figures(m, start=d(2), end=d(7))
    assert (f.days_in_window, f.days_with_data, f.percent_days_abstinent) == (6, 6, 100.0)
    # The streak does not reach back before the window's start.
    assert f.current_streak == 6


def test_an_empty_window_has_no_days() -> None:
    f = abstinence.figures(day_map("aaa"), start=d(3), end=d(2))
    assert (f.days_in_window, f.days_with_data, f.percent_days_abstinent) == (0, 0, None)
    assert (f.current_streak, f.longest_streak, f.last_day_with_data) == (0, 0, None)


@pytest.mark.parametrize(
    ("maps", "expected"),
    [
        ([], ""),
        (["aau", "..."], "aau"),
        (["aau", "ua."], "uau"),  # a use of any substance is a use day
        (["a..", ".a."], "aa."),  # abstinent if some substance is recorded and none used
        (["..u", "..a"], "..u"),
    ],
)
def test_merge(maps: list[str], expected: str) -> None:
    assert abstinence.merge(day_map(m) for m in maps) == day_map(expected)


@pytest.mark.parametrize(
    ("pattern", "min_days", "expected"),
    [
        ("", 1, []),
        ("uuuu", 1, []),  # never abstinent: no return
        ("aaaa", 1, []),  # never used
        ("u", 1, []),  # a first use with nothing known before it
        ("au", 1, [(1, 1)]),
        ("aaaaaauu", 1, [(6, 6)]),  # only the first day of a run of use
        (".aaau", 1, [(4, 3)]),
        ("aa.u", 1, []),  # the day before is unknown: not known to be a return
        ("uaua", 1, [(2, 1)]),
        ("uaaua", 2, [(3, 2)]),
        ("uaua", 2, []),  # below the minimum run
        ("aaaaaaauaaaaaaaau", 1, [(7, 7), (16, 8)]),
    ],
)
def test_returns_to_use(pattern: str, min_days: int, expected: list[tuple[int, int]]) -> None:
    found = abstinence.returns_to_use(day_map(pattern), min_abstinent_days=min_days)
    assert found == [ReturnToUse(day=d(i), abstinent_days_before=n) for i, n in expected]


@pytest.mark.parametrize(
    ("pattern", "before_day", "expected"),
    [
        ("aaaaaa", 6, 6),
        ("aaaaaaa", 7, 7),
        ("uaaaaaaa", 8, 7),
        ("a.aaaaaa", 8, 6),
        ("", 0, 0),
    ],
)
def test_abstinent_run_before(pattern: str, before_day: int, expected: int) -> None:
    assert abstinence.abstinent_run_before(day_map(pattern), d(before_day)) == expected


@pytest.mark.parametrize(
    ("opioid", "days", "risk"),
    [
        (True, 6, False),  # the boundary: 6 days is not enough
        (True, 7, True),  # 7 days is (issue 5 / DOMAIN.md §3)
        (True, 30, True),
        (True, 0, False),
        (True, None, False),  # unknown abstinence: not asserted
        (False, 7, False),  # alcohol, cocaine…: no opioid overdose rule
        (False, 100, False),
    ],
)
def test_overdose_risk_boundary(opioid: bool, days: int | None, risk: bool) -> None:
    assert abstinence.carries_overdose_risk(opioid=opioid, abstinent_days_before=days) is risk


@pytest.mark.parametrize(("abstinent", "risk"), [(6, False), (7, True), (8, True)])
def test_detected_return_and_overdose_risk_together(abstinent: int, risk: bool) -> None:
    [found] = abstinence.returns_to_use(day_map("u" + "a" * abstinent + "u"))
    assert found.abstinent_days_before == abstinent
    assert (
        abstinence.carries_overdose_risk(
            opioid=True, abstinent_days_before=found.abstinent_days_before
        )
        is risk
    )
