"""Every read of drug screens, days of use and return-to-use events, filtered by access.

Each selector that takes an actor asks ``authorize`` once (one audit event) and runs a fixed
number of queries whatever the length of the client's history. ``recovery_overview`` composes
the Recovery page under one decision. ``return_to_use_events_since`` is a bulk helper for code
whose caller has already been allowed to see the clients (the alerts of a later issue); it
audits nothing and only reads.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.utils import timezone

from iptcare.access.policy import authorize
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.errors import NotFound
from iptcare.recovery import abstinence
from iptcare.recovery.models import DrugScreen, ReturnToUseEvent, ScreenResult, UseDay
from iptcare.recovery.substances import Substance

CATEGORY = DataCategory.CLINICAL_RECORD
PURPOSE = Purpose.TREATMENT
SCREENS_LIMIT = 20
EVENTS_LIMIT = 50
# The abstinence summary's default window: the last 90 days (a 3-month TLFB window is the
# common clinical one — Sobell & Sobell 1992; DOMAIN.md §3 "going back 1-3 months").
SUMMARY_DAYS = 90


@dataclass(frozen=True)
class SubstanceFigures:
    substance: str  # a TEDS code, or "any" for any substance
    label: str
    figures: abstinence.Figures


@dataclass(frozen=True)
class AbstinenceSummary:
    start: date
    end: date
    any_substance: SubstanceFigures
    by_substance: list[SubstanceFigures]


@dataclass(frozen=True)
class CalendarCell:
    day: date
    in_month: bool
    # substance → the day's row (only substances recorded that day).
    entries: dict[str, UseDay]

    @property
    def used(self) -> list[UseDay]:
        return [e for e in self.entries.values() if e.used]

    @property
    def state(self) -> str:
        """'used', 'abstinent' or 'unknown' (no entry)."""
        if not self.entries:
            return "unknown"
        return "used" if self.used else "abstinent"


@dataclass(frozen=True)
class TlfbMonth:
    year: int
    month: int
    weeks: list[list[CalendarCell]]
    substances: list[str]
    rows: list[UseDay]

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def previous(self) -> date:
        return (self.first - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        return (self.first + timedelta(days=32)).replace(day=1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])


@dataclass(frozen=True)
class RecoveryOverview:
    client: Client
    summary: AbstinenceSummary
    screens: list[DrugScreen]
    month: TlfbMonth
    events: list[ReturnToUseEvent]


# --- reads without a decision of their own (callers authorise) ----------------------------------


def _results() -> Prefetch:
    return Prefetch("results", queryset=ScreenResult.objects.order_by("id"))


def _screens(client: Client, limit: int) -> list[DrugScreen]:
    screens = list(
        DrugScreen.objects.filter(client=client)
        .select_related("collected_by", "episode")
        .prefetch_related(_results())
        .order_by("-collected_at", "-id")[:limit]
    )
    for s in screens:
        s.client = client
    return screens


def _events(client: Client, limit: int) -> list[ReturnToUseEvent]:
    events = list(
        ReturnToUseEvent.objects.filter(client=client)
        .select_related("screen", "episode", "created_by")
        .order_by("-date", "-id")[:limit]
    )
    for e in events:
        e.client = client
    return events


def _day_maps(rows: Iterable[tuple[date, str, bool]]) -> dict[str, dict[date, bool]]:
    maps: dict[str, dict[date, bool]] = {}
    for day, substance, used in rows:
        maps.setdefault(substance, {})[day] = used
    return maps


def _summary(client: Client, start: date, end: date) -> AbstinenceSummary:
    rows = (
        UseDay.objects.filter(client=client, date__gte=start, date__lte=end)
        .order_by()
        .values_list("date", "substance", "used")
    )
    maps = _day_maps(rows)
    labels = dict(Substance.choices)
    return AbstinenceSummary(
        start=start,
        end=end,
        any_substance=SubstanceFigures(
            "any",
            "Any substance",
            abstinence.figures(abstinence.merge(maps.values()), start=start, end=end),
        ),
        by_substance=[
            SubstanceFigures(s, labels[s], abstinence.figures(maps[s], start=start, end=end))
            for s in Substance.values
            if s in maps
        ],
    )


def _month(client: Client, year: int, month: int) -> TlfbMonth:
    cal = calendar.Calendar(firstweekday=0)
    grid = cal.monthdatescalendar(year, month)
    rows = list(
        UseDay.objects.filter(client=client, date__gte=grid[0][0], date__lte=grid[-1][-1])
        .select_related("recorded_by")
        .order_by("date", "substance")
    )
    by_day: dict[date, dict[str, UseDay]] = {}
    for row in rows:
        row.client = client
        by_day.setdefault(row.date, {})[row.substance] = row
    return TlfbMonth(
        year=year,
        month=month,
        weeks=[
            [CalendarCell(d, d.month == month, by_day.get(d, {})) for d in week] for week in grid
        ],
        substances=[s for s in Substance.values if any(r.substance == s for r in rows)],
        rows=[r for r in rows if r.date.month == month],
    )


def summary_window(today: date | None = None, days: int = SUMMARY_DAYS) -> tuple[date, date]:
    end = today or timezone.localdate()
    return end - timedelta(days=days - 1), end


# --- selectors ------------------------------------------------------------------------------


def screens_recent(*, actor: User, client: Client, limit: int = SCREENS_LIMIT) -> list[DrugScreen]:
    """The client's latest screens with their results, newest first (one audit event, two
    queries for the rows)."""
    authorize(actor, Action.LIST, client, CATEGORY, PURPOSE, detail={"of": "drug_screens"})
    return _screens(client, limit)


def screen_get(*, actor: User, public_id: UUID) -> DrugScreen:
    """One screen with its results, if the actor may see its client's record (audited VIEW)."""
    screen = (
        DrugScreen.objects.select_related("client__organisation", "collected_by", "episode")
        .filter(public_id=public_id)
        .first()
    )
    if screen is None:
        raise NotFound("No such drug screen.")
    authorize(actor, Action.VIEW, screen, CATEGORY, PURPOSE)
    prefetch_related_objects([screen], _results())
    return screen


def tlfb_month(*, actor: User, client: Client, year: int, month: int) -> TlfbMonth:
    """The Timeline Followback calendar of one month as a grid of weeks (Monday first)."""
    authorize(
        actor,
        Action.VIEW,
        client,
        CATEGORY,
        PURPOSE,
        detail={"of": "use_days", "month": f"{year:04d}-{month:02d}"},
    )
    return _month(client, year, month)


def use_days_between(*, actor: User, client: Client, start: date, end: date) -> list[UseDay]:
    """The recorded days of use from ``start`` to ``end``, by date and substance (one query)."""
    authorize(
        actor,
        Action.VIEW,
        client,
        CATEGORY,
        PURPOSE,
        detail={"of": "use_days", "start": start.isoformat(), "end": end.isoformat()},
    )
    rows = list(
        UseDay.objects.filter(client=client, date__gte=start, date__lte=end).order_by(
            "date", "substance"
        )
    )
    for row in rows:
        row.client = client
    return rows


def abstinence_summary(
    *, actor: User, client: Client, start: date | None = None, end: date | None = None
) -> AbstinenceSummary:
    """Percent days abstinent and streaks per substance and for any substance (one query)."""
    default_start, default_end = summary_window()
    end = end or default_end
    start = start or end - (default_end - default_start)
    authorize(
        actor,
        Action.VIEW,
        client,
        CATEGORY,
        PURPOSE,
        detail={"of": "abstinence", "start": start.isoformat(), "end": end.isoformat()},
    )
    return _summary(client, start, end)


def return_to_use_events(
    *, actor: User, client: Client, limit: int = EVENTS_LIMIT
) -> list[ReturnToUseEvent]:
    """The client's return-to-use events, newest first, withdrawn ones included (marked)."""
    authorize(actor, Action.LIST, client, CATEGORY, PURPOSE, detail={"of": "return_to_use"})
    return _events(client, limit)


def recovery_overview(
    *, actor: User, client: Client, year: int, month: int, today: date | None = None
) -> RecoveryOverview:
    """The Recovery page: summary, latest screens, one month's calendar and the events, under
    one decision (one audit event). Fixed query count."""
    start, end = summary_window(today)
    authorize(
        actor,
        Action.VIEW,
        client,
        CATEGORY,
        PURPOSE,
        detail={"view": "recovery", "month": f"{year:04d}-{month:02d}"},
    )
    return RecoveryOverview(
        client=client,
        summary=_summary(client, start, end),
        screens=_screens(client, 10),
        month=_month(client, year, month),
        events=_events(client, 10),
    )


def return_to_use_events_since(
    *, client_ids: Iterable[int], since: datetime
) -> QuerySet[ReturnToUseEvent]:
    """Events (not withdrawn) recorded at or after ``since`` for these clients, oldest first.

    For code whose caller has already authorised reading these clients (the alerts of a later
    issue): no audit event here. One query when evaluated.
    """
    return (
        ReturnToUseEvent.objects.filter(
            client_id__in=list(client_ids), created_at__gte=since, withdrawn_at__isnull=True
        )
        .select_related("client", "screen")
        .order_by("created_at", "id")
    )
