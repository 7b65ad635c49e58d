"""Measure schedules: which instruments an episode asks for and when, and what is due (pure).

A schedule is a list of rules, one per instrument: at admission, every N attended sessions, every
N days, at discharge — any combination. ``due_status`` turns one rule, the episode's dates and the
dates the instrument was given into "what is owed now": plain data in, plain data out, no
database, so every boundary is a table-driven test.

Semantics (docs/measures.md says the same for users):
- Admission: due on the admission date; overdue after the intake window of
  ``ADMISSION_GRACE_DAYS`` days (an intake often spans several visits). Any administration in
  the episode satisfies it.
- Every N sessions: sessions are the attended sessions of the episode, numbered from 1 at
  admission. A session held on the day of the latest administration counts as measured; the next
  one is due at the N-th attended session after that ("at session n" until it is held). When that
  session was held and nothing was given that day, it is overdue from the next day.
- Every N days: due N days after the latest administration (or after admission if none);
  overdue from the day after.
- Discharge: while the episode is open, "at discharge". Once discharged, any administration from
  ``DISCHARGE_WINDOW_DAYS`` before the discharge date satisfies it; otherwise overdue from the
  day after discharge. After discharge only the discharge measure is owed.
- Every administration counts, complete or not: the schedule asks that the client be asked; an
  incomplete one shows on the chart without a total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from iptcare.clients.models import Episode

ADMISSION_GRACE_DAYS = 7
DISCHARGE_WINDOW_DAYS = 14
MAX_EVERY_SESSIONS = 52
MAX_EVERY_DAYS = 365


@dataclass(frozen=True)
class ScheduleRule:
    """When one instrument is given in an episode."""

    instrument: str
    at_admission: bool = False
    every_sessions: int | None = None
    every_days: int | None = None
    at_discharge: bool = False

    @property
    def is_empty(self) -> bool:
        return not (
            self.at_admission or self.every_sessions or self.every_days or self.at_discharge
        )

    def describe(self) -> str:
        parts = []
        if self.at_admission:
            parts.append("at admission")
        if self.every_sessions:
            parts.append(f"every {self.every_sessions} sessions")
        if self.every_days:
            parts.append(f"every {self.every_days} days")
        if self.at_discharge:
            parts.append("at discharge")
        return ", ".join(parts) or "never"


# The program-wide default, used for every episode until its clinician saves its own schedule.
# Issue 5 / IPT certification practice: PHQ-9 and GAD-7 at intake and every 4 sessions; AUDIT
# and DAST-10 at admission and at discharge (substance-use outcome at both ends of the episode).
PROGRAM_DEFAULT: tuple[ScheduleRule, ...] = (
    ScheduleRule("phq-9", at_admission=True, every_sessions=4),
    ScheduleRule("gad-7", at_admission=True, every_sessions=4),
    ScheduleRule("audit", at_admission=True, at_discharge=True),
    ScheduleRule("dast-10", at_admission=True, at_discharge=True),
)


def default_schedule(episode: Episode | None = None) -> list[ScheduleRule]:
    """The schedule an episode follows until one is saved for it (one default per deployment
    for now; ``episode`` is the hook for a per-program default)."""
    return list(PROGRAM_DEFAULT)


State = Literal["overdue", "due", "upcoming", "done"]


@dataclass(frozen=True)
class DueStatus:
    instrument: str
    state: State
    # The date it is (or was) due, when the schedule makes that a date; for "upcoming", the
    # earliest dated occasion still ahead.
    due_on: date | None = None
    # The attended session it falls due at, while that session has not been held.
    at_session: int | None = None
    # Only the discharge measure is left (open episode).
    at_discharge: bool = False
    overdue_since: date | None = None
    # What made it due: "admission", "sessions", "days" or "discharge".
    reason: str = ""

    @property
    def overdue(self) -> bool:
        return self.state == "overdue"

    def describe(self) -> str:
        if self.state == "overdue":
            return f"overdue since {self.overdue_since:%Y-%m-%d} ({_REASONS[self.reason]})"
        if self.state == "due":
            return f"due {self.due_on:%Y-%m-%d} ({_REASONS[self.reason]})"
        if self.state == "done":
            return "nothing due"
        parts = []
        if self.at_session is not None:
            parts.append(f"at session {self.at_session}")
        if self.due_on is not None:
            parts.append(f"by {self.due_on:%Y-%m-%d}")
        if self.at_discharge:
            parts.append("at discharge")
        return "next " + " or ".join(parts) if parts else "not yet admitted"


_REASONS = {
    "admission": "admission",
    "sessions": "session count",
    "days": "interval",
    "discharge": "discharge",
}


@dataclass(frozen=True)
class _Owed:
    reason: str
    due_on: date | None = None
    overdue_since: date | None = None
    at_session: int | None = None
    at_discharge: bool = False


def _owed(
    rule: ScheduleRule,
    *,
    admission_date: date,
    sessions: Sequence[date],
    administered: Sequence[date],
    discharge_date: date | None,
) -> list[_Owed]:
    last = administered[-1] if administered else None
    day = timedelta(days=1)
    if discharge_date is not None:
        if not rule.at_discharge:
            return []
        window = discharge_date - timedelta(days=DISCHARGE_WINDOW_DAYS)
        if any(d >= window for d in administered):
            return []
        return [_Owed("discharge", discharge_date, discharge_date + day)]
    owed: list[_Owed] = []
    if rule.at_admission and not administered:
        since = admission_date + timedelta(days=ADMISSION_GRACE_DAYS + 1)
        owed.append(_Owed("admission", admission_date, since))
    if rule.every_sessions:
        measured = sum(1 for s in sessions if last is not None and s <= last)
        n = measured + rule.every_sessions
        if len(sessions) >= n:
            held = sessions[n - 1]
            owed.append(_Owed("sessions", held, held + day))
        else:
            owed.append(_Owed("sessions", at_session=n))
    if rule.every_days:
        due = (last or admission_date) + timedelta(days=rule.every_days)
        owed.append(_Owed("days", due, due + day))
    if rule.at_discharge:
        owed.append(_Owed("discharge", at_discharge=True))
    return owed


def due_status(
    rule: ScheduleRule,
    *,
    admission_date: date | None,
    session_dates: Iterable[date],
    administered: Iterable[date],
    today: date,
    discharge_date: date | None = None,
) -> DueStatus:
    """What ``rule`` asks for now, given the episode's admission (and discharge) date, the dates
    of its attended sessions and the dates ``rule.instrument`` was given in it."""
    code = rule.instrument
    if admission_date is None:  # referred, not admitted: the schedule has not started
        return DueStatus(code, "upcoming")
    sessions = sorted(
        d
        for d in session_dates
        if d >= admission_date and (discharge_date is None or d <= discharge_date)
    )
    owed = _owed(
        rule,
        admission_date=admission_date,
        sessions=sessions,
        administered=sorted(administered),
        discharge_date=discharge_date,
    )
    late = [o for o in owed if o.overdue_since is not None and o.overdue_since <= today]
    if late:
        first = min(late, key=lambda o: o.overdue_since or today)
        return DueStatus(
            code, "overdue", first.due_on, overdue_since=first.overdue_since, reason=first.reason
        )
    now = [o for o in owed if o.due_on is not None and o.due_on <= today]
    if now:
        first = min(now, key=lambda o: o.due_on or today)
        return DueStatus(code, "due", first.due_on, reason=first.reason)
    if not owed:
        return DueStatus(code, "done")
    dated = [o for o in owed if o.due_on is not None]
    soonest = min(dated, key=lambda o: o.due_on or today) if dated else None
    at_session = next((o.at_session for o in owed if o.at_session is not None), None)
    return DueStatus(
        code,
        "upcoming",
        soonest.due_on if soonest else None,
        at_session=at_session,
        at_discharge=any(o.at_discharge for o in owed),
        reason=soonest.reason if soonest else owed[0].reason,
    )


def schedule_status(
    rules: Sequence[ScheduleRule],
    *,
    admission_date: date | None,
    session_dates: Sequence[date],
    administered: Mapping[str, Sequence[date]],
    today: date,
    discharge_date: date | None = None,
) -> list[DueStatus]:
    """``due_status`` for every rule of a schedule; ``administered``: dates by instrument code."""
    return [
        due_status(
            rule,
            admission_date=admission_date,
            session_dates=session_dates,
            administered=administered.get(rule.instrument, ()),
            today=today,
            discharge_date=discharge_date,
        )
        for rule in rules
    ]
