"""Due and overdue measures (pure), at their boundaries: none yet, exactly N sessions, exactly
N days, administered the same day, the intake window, discharge."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from iptcare.measures.schedules import (
    ADMISSION_GRACE_DAYS,
    DISCHARGE_WINDOW_DAYS,
    PROGRAM_DEFAULT,
    DueStatus,
    ScheduleRule,
    default_schedule,
    due_status,
    schedule_status,
)

ADMIT = date(2025, 3, 3)


def d(n: int) -> date:
    """The day ``n`` days after admission."""
    return ADMIT + timedelta(days=n)


EVERY_4 = ScheduleRule("phq-9", every_sessions=4)
INTAKE_EVERY_4 = ScheduleRule("phq-9", at_admission=True, every_sessions=4)
MONTHLY = ScheduleRule("bam", every_days=30)
DISCHARGE = ScheduleRule("audit", at_admission=True, at_discharge=True)
WEEKLY = [d(7), d(14), d(21), d(28), d(35), d(42), d(49), d(56)]

CASES: list[tuple[str, ScheduleRule, list[date], list[date], date, date | None, DueStatus]] = [
    # --- admission ---
    (
        "none yet, admitted today: due today",
        INTAKE_EVERY_4,
        [],
        [],
        d(0),
        None,
        DueStatus("phq-9", "due", d(0), reason="admission"),
    ),
    (
        "none yet, last day of the intake window: still only due",
        INTAKE_EVERY_4,
        [],
        [],
        d(ADMISSION_GRACE_DAYS),
        None,
        DueStatus("phq-9", "due", d(0), reason="admission"),
    ),
    (
        "none yet, the day after the intake window: overdue",
        INTAKE_EVERY_4,
        [d(7)],
        [],
        d(ADMISSION_GRACE_DAYS + 1),
        None,
        DueStatus(
            "phq-9",
            "overdue",
            d(0),
            overdue_since=d(ADMISSION_GRACE_DAYS + 1),
            reason="admission",
        ),
    ),
    (
        "given at admission, no sessions yet: next at session 4",
        INTAKE_EVERY_4,
        [],
        [d(0)],
        d(3),
        None,
        DueStatus("phq-9", "upcoming", at_session=4, reason="sessions"),
    ),
    # --- every N sessions ---
    (
        "none yet, no admission rule: at session 4",
        EVERY_4,
        WEEKLY[:3],
        [],
        d(22),
        None,
        DueStatus("phq-9", "upcoming", at_session=4, reason="sessions"),
    ),
    (
        "exactly 4 sessions, the 4th today: due today",
        INTAKE_EVERY_4,
        WEEKLY[:4],
        [d(0)],
        d(28),
        None,
        DueStatus("phq-9", "due", d(28), reason="sessions"),
    ),
    (
        "exactly 4 sessions, the day after the 4th: overdue",
        INTAKE_EVERY_4,
        WEEKLY[:4],
        [d(0)],
        d(29),
        None,
        DueStatus("phq-9", "overdue", d(28), overdue_since=d(29), reason="sessions"),
    ),
    (
        "3 sessions since the last: not yet",
        INTAKE_EVERY_4,
        WEEKLY[:3],
        [d(0)],
        d(60),
        None,
        DueStatus("phq-9", "upcoming", at_session=4, reason="sessions"),
    ),
    (
        "administered the same day as session 4: measured, next at session 8",
        INTAKE_EVERY_4,
        WEEKLY[:5],
        [d(0), d(28)],
        d(40),
        None,
        DueStatus("phq-9", "upcoming", at_session=8, reason="sessions"),
    ),
    (
        "given at session 2 (not scheduled): the count restarts there",
        INTAKE_EVERY_4,
        WEEKLY[:5],
        [d(0), d(14)],
        d(40),
        None,
        DueStatus("phq-9", "upcoming", at_session=6, reason="sessions"),
    ),
    (
        "sessions before admission do not count",
        EVERY_4,
        [d(-14), d(-7), *WEEKLY[:3]],
        [],
        d(30),
        None,
        DueStatus("phq-9", "upcoming", at_session=4, reason="sessions"),
    ),
    # --- every N days ---
    (
        "none yet, 30 days after admission: due today",
        MONTHLY,
        [],
        [],
        d(30),
        None,
        DueStatus("bam", "due", d(30), reason="days"),
    ),
    (
        "none yet, 29 days after admission: upcoming",
        MONTHLY,
        [],
        [],
        d(29),
        None,
        DueStatus("bam", "upcoming", d(30), reason="days"),
    ),
    (
        "exactly 30 days since the last: due today",
        MONTHLY,
        [],
        [d(10)],
        d(40),
        None,
        DueStatus("bam", "due", d(40), reason="days"),
    ),
    (
        "31 days since the last: overdue since the day after it was due",
        MONTHLY,
        [],
        [d(10)],
        d(41),
        None,
        DueStatus("bam", "overdue", d(40), overdue_since=d(41), reason="days"),
    ),
    (
        "administered today: next in 30 days",
        MONTHLY,
        [],
        [d(10), d(41)],
        d(41),
        None,
        DueStatus("bam", "upcoming", d(71), reason="days"),
    ),
    # --- discharge ---
    (
        "open episode, admission done: only the discharge measure is left",
        DISCHARGE,
        WEEKLY,
        [d(0)],
        d(60),
        None,
        DueStatus("audit", "upcoming", at_discharge=True, reason="discharge"),
    ),
    (
        "discharged today, nothing since admission: due today",
        DISCHARGE,
        WEEKLY,
        [d(0)],
        d(60),
        d(60),
        DueStatus("audit", "due", d(60), reason="discharge"),
    ),
    (
        "discharged yesterday, nothing near discharge: overdue",
        DISCHARGE,
        WEEKLY,
        [d(0)],
        d(61),
        d(60),
        DueStatus("audit", "overdue", d(60), overdue_since=d(61), reason="discharge"),
    ),
    (
        "given within the discharge window: done",
        DISCHARGE,
        WEEKLY,
        [d(0), d(60 - DISCHARGE_WINDOW_DAYS)],
        d(90),
        d(60),
        DueStatus("audit", "done"),
    ),
    (
        "given the day before the discharge window: still owed",
        DISCHARGE,
        WEEKLY,
        [d(0), d(60 - DISCHARGE_WINDOW_DAYS - 1)],
        d(90),
        d(60),
        DueStatus("audit", "overdue", d(60), overdue_since=d(61), reason="discharge"),
    ),
    (
        "after discharge, periodic measures are no longer owed",
        INTAKE_EVERY_4,
        WEEKLY,
        [d(0)],
        d(90),
        d(60),
        DueStatus("phq-9", "done"),
    ),
    (
        "admission only, done: nothing more",
        ScheduleRule("mspss", at_admission=True),
        WEEKLY,
        [d(1)],
        d(90),
        None,
        DueStatus("mspss", "done"),
    ),
]


@pytest.mark.parametrize(
    ("rule", "sessions", "given", "today", "discharge", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_due_status(
    rule: ScheduleRule,
    sessions: list[date],
    given: list[date],
    today: date,
    discharge: date | None,
    expected: DueStatus,
) -> None:
    got = due_status(
        rule,
        admission_date=ADMIT,
        session_dates=sessions,
        administered=given,
        today=today,
        discharge_date=discharge,
    )
    assert got == expected
    assert got.overdue is (expected.state == "overdue")


def test_not_admitted_nothing_is_due() -> None:
    got = due_status(
        INTAKE_EVERY_4, admission_date=None, session_dates=[], administered=[], today=ADMIT
    )
    assert got.state == "upcoming" and not got.overdue and got.describe() == "not yet admitted"


def test_the_earliest_overdue_occasion_wins() -> None:
    rule = ScheduleRule("phq-9", every_sessions=2, every_days=10)
    got = due_status(
        rule,
        admission_date=ADMIT,
        session_dates=[d(3), d(5)],
        administered=[],
        today=d(20),
    )
    assert got == DueStatus("phq-9", "overdue", d(5), overdue_since=d(6), reason="sessions")


def test_unordered_inputs_are_sorted() -> None:
    got = due_status(
        INTAKE_EVERY_4,
        admission_date=ADMIT,
        session_dates=list(reversed(WEEKLY[:4])),
        administered=[d(28), d(0)],
        today=d(29),
    )
    assert got.state == "upcoming" and got.at_session == 8


def test_descriptions_read_plainly() -> None:
    assert INTAKE_EVERY_4.describe() == "at admission, every 4 sessions"
    assert ScheduleRule("x").describe() == "never" and ScheduleRule("x").is_empty
    overdue = DueStatus("phq-9", "overdue", d(28), overdue_since=d(29), reason="sessions")
    assert overdue.describe() == "overdue since 2025-04-01 (session count)"
    assert DueStatus("bam", "due", d(30), reason="days").describe() == "due 2025-04-02 (interval)"
    upcoming = DueStatus("phq-9", "upcoming", at_session=8, reason="sessions")
    assert upcoming.describe() == "next at session 8"
    assert DueStatus("audit", "upcoming", at_discharge=True).describe() == "next at discharge"


def test_program_default_is_the_certification_practice() -> None:
    assert default_schedule() == list(PROGRAM_DEFAULT)
    by_code = {r.instrument: r for r in PROGRAM_DEFAULT}
    assert by_code["phq-9"] == ScheduleRule("phq-9", at_admission=True, every_sessions=4)
    assert by_code["gad-7"] == ScheduleRule("gad-7", at_admission=True, every_sessions=4)
    assert by_code["audit"] == ScheduleRule("audit", at_admission=True, at_discharge=True)
    assert by_code["dast-10"] == ScheduleRule("dast-10", at_admission=True, at_discharge=True)


def test_schedule_status_maps_each_rule_to_its_instrument_dates() -> None:
    statuses = schedule_status(
        default_schedule(),
        admission_date=ADMIT,
        session_dates=WEEKLY[:4],
        administered={"phq-9": [d(0)], "gad-7": [d(0), d(28)], "audit": [d(0)]},
        today=d(30),
    )
    assert [(s.instrument, s.state) for s in statuses] == [
        ("phq-9", "overdue"),
        ("gad-7", "upcoming"),
        ("audit", "upcoming"),
        ("dast-10", "overdue"),
    ]
