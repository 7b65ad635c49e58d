"""Synthetic drug screens, days of use and returns to use for the demo and benchmark data sets.

Called by the demo generator with the admitted episodes (client, program, primary clinician
loaded). Writes with ``bulk_create`` only, no audit events (nobody accessed anything),
deterministic for a given ``rng``. Each client follows one trajectory — steady abstinence,
a return to use after a week or more, a short lapse, continued use — over the last 60 days of
their episode; weekly urine screens reflect the calendar (a positive when the substance was used
in the two days before: a demo simplification, not a statement about detection windows), with
medication positives marked expected and a few undisclosed uses showing only on a screen.
Return-to-use events are derived with the same rules as the services (``abstinence.py``).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from iptcare.clients.models import Episode, EpisodeSubstance
from iptcare.plans.models import PlanMedication, PlanStatus
from iptcare.recovery import abstinence
from iptcare.recovery.models import (
    DrugScreen,
    ExpectedBy,
    ReturnSource,
    ReturnToUseEvent,
    ScreenResult,
    ScreenResultValue,
    Specimen,
    UseDay,
    UseDaySource,
)
from iptcare.recovery.substances import (
    ANALYTE_SUBSTANCE,
    DEFAULT_PANEL,
    Analyte,
    Substance,
    abstinence_key,
    analytes_explained_by,
    is_opioid,
)

WINDOW_DAYS = 60
BATCH = 2000
TRAJECTORIES = (("steady", 40), ("return", 30), ("lapse", 15), ("using", 15))
# What a day of use of each TEDS substance shows on the demo panel.
SHOWS_AS: dict[str, tuple[str, ...]] = {
    Substance.HEROIN: (Analyte.OPIATES, Analyte.HEROIN_6AM, Analyte.FENTANYL),
    Substance.OTHER_OPIATES: (Analyte.FENTANYL,),
    Substance.METHADONE: (Analyte.METHADONE,),
    Substance.ALCOHOL: (Analyte.ALCOHOL,),
    Substance.COCAINE: (Analyte.COCAINE,),
    Substance.METHAMPHETAMINE: (Analyte.METHAMPHETAMINE, Analyte.AMPHETAMINES),
    Substance.OTHER_AMPHETAMINES: (Analyte.AMPHETAMINES,),
    Substance.MARIJUANA: (Analyte.CANNABINOIDS,),
    Substance.BENZODIAZEPINES: (Analyte.BENZODIAZEPINES,),
}
AMOUNTS: dict[str, tuple[str, ...]] = {
    Substance.ALCOHOL: ("4 drinks", "6 drinks", "2 drinks", "a bottle of wine"),
    Substance.HEROIN: ("2 bags", "1 bag", "3 bags"),
    Substance.OTHER_OPIATES: ("2 pills", "1 pill"),
}


@dataclass
class _Client:
    episode: Episode
    substance: str
    explained: dict[str, str]  # analyte → medication name
    days: dict[date, bool]
    amounts: dict[date, str]
    screens: list[tuple[date, DrugScreen, list[ScreenResult]]]
    clinician_id: int


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _calendar(kind: str, days: list[date], rng: random.Random) -> dict[date, bool]:
    """One trajectory's days of use (True) and abstinent days (False); gaps are unknown."""
    n = len(days)
    used = [False] * n
    early = min(n, rng.randint(2, 6))
    for i in range(early):  # the first days in treatment: still using now and then
        used[i] = rng.random() < 0.6
    if kind == "return" and n > early + 10:
        onset = rng.randint(early + 8, n - 2)
        for i in range(onset, min(n, onset + rng.randint(1, 3))):
            used[i] = True
    elif kind == "lapse" and n > early + 8:
        onset = early + rng.randint(3, 6) + 1
        used[onset] = True
    elif kind == "using":
        used = [rng.random() < 0.5 for _ in range(n)]
    out = dict(zip(days, used, strict=True))
    if kind == "steady" and n > 20 and rng.random() < 0.4:
        gap = rng.randint(early + 1, n - 6)
        for i in range(gap, gap + rng.randint(2, 4)):
            del out[days[i]]
    return out


def generate(*, episodes: Sequence[Episode], rng: random.Random, today: date) -> dict[str, Any]:
    """Days of use, weekly screens and derived return-to-use events for admitted episodes."""
    chosen = [
        e
        for e in episodes
        if e.admission_date is not None
        and e.primary_clinician_id is not None
        and e.admission_date < today - timedelta(days=7)
    ]
    if not chosen:
        return {"use_days": 0, "screens": 0, "results": 0, "return_to_use_events": 0}
    primary = dict(
        EpisodeSubstance.objects.filter(episode__in=chosen, rank=1).values_list(
            "episode_id", "substance"
        )
    )
    meds: dict[int, dict[str, str]] = {}
    for episode_id, name in (
        PlanMedication.objects.filter(plan__episode__in=chosen, plan__status=PlanStatus.ACTIVE)
        .order_by("id")
        .values_list("plan__episode_id", "name")
    ):
        for analyte in analytes_explained_by(name):
            meds.setdefault(episode_id, {})[analyte] = name
    now = timezone.now()
    tz = timezone.get_current_timezone()
    kinds = [k for k, _ in TRAJECTORIES]
    weights = [w for _, w in TRAJECTORIES]
    use_days: list[UseDay] = []
    screens: list[DrugScreen] = []
    results: list[list[ScreenResult]] = []
    clients: list[_Client] = []
    trajectories: Counter[str] = Counter()
    for episode in chosen:
        assert episode.admission_date is not None and episode.primary_clinician is not None
        clinician_id: int = episode.primary_clinician.pk
        substance = primary.get(episode.pk, Substance.ALCOHOL)
        if substance not in SHOWS_AS:
            substance = Substance.ALCOHOL
        kind = rng.choices(kinds, weights=weights, k=1)[0]
        trajectories[kind] += 1
        start = max(episode.admission_date, today - timedelta(days=WINDOW_DAYS))
        days = _days(start, today - timedelta(days=1))
        calendar = _calendar(kind, days, rng)
        amounts = {
            d: rng.choice(AMOUNTS.get(substance, ("",))) for d, used in calendar.items() if used
        }
        client = _Client(
            episode, substance, meds.get(episode.pk, {}), calendar, amounts, [], clinician_id
        )
        clients.append(client)
        for day, used in calendar.items():
            use_days.append(
                UseDay(
                    public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    created_at=now,
                    updated_at=now,
                    organisation_id=episode.organisation_id,
                    client_id=episode.client_id,
                    date=day,
                    substance=substance,
                    used=used,
                    amount=amounts.get(day, ""),
                    source=UseDaySource.CLINICIAN_INTERVIEW,
                    recorded_by_id=clinician_id,
                    version=1,
                )
            )
        # Weekly screens; a steady client sometimes shows an undisclosed use on one of them.
        undisclosed = kind == "steady" and rng.random() < 0.3
        for screen_day in days[7::7]:
            recent = any(calendar.get(screen_day - timedelta(days=k)) for k in range(0, 3))
            hidden = undisclosed and screen_day >= days[0] + timedelta(days=21)
            if hidden:
                undisclosed = False
            screen = DrugScreen(
                public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                created_at=now,
                updated_at=now,
                organisation_id=episode.organisation_id,
                program_id=episode.program_id,
                client_id=episode.client_id,
                episode_id=episode.pk,
                collected_at=timezone.make_aware(
                    datetime.combine(screen_day, time(rng.randint(9, 16))), tz
                ),
                specimen=Specimen.URINE,
                collected_by_id=clinician_id,
                version=1,
            )
            shows = set(SHOWS_AS[substance]) if recent or hidden else set()
            rows = []
            for analyte in dict.fromkeys((*DEFAULT_PANEL, *SHOWS_AS[substance])):
                positive = analyte in shows or analyte in client.explained
                expected = analyte in client.explained and analyte not in shows
                rows.append(
                    ScreenResult(
                        analyte=analyte,
                        substance=ANALYTE_SUBSTANCE[analyte],
                        result=ScreenResultValue.POSITIVE
                        if positive
                        else ScreenResultValue.NEGATIVE,
                        expected=expected,
                        expected_by=ExpectedBy.MEDICATION if expected else "",
                        expected_reason=client.explained[analyte] if expected else "",
                    )
                )
            screens.append(screen)
            results.append(rows)
            client.screens.append((screen_day, screen, rows))

    with transaction.atomic():
        UseDay.objects.bulk_create(use_days, batch_size=BATCH)
        DrugScreen.objects.bulk_create(screens, batch_size=BATCH)
        flat = []
        for screen, rows in zip(screens, results, strict=True):
            for row in rows:
                row.screen_id = screen.pk
                flat.append(row)
        ScreenResult.objects.bulk_create(flat, batch_size=BATCH)
        events = _events(clients, rng=rng, now=now)
        ReturnToUseEvent.objects.bulk_create(events, batch_size=BATCH)
    return {
        "use_days": len(use_days),
        "screens": len(screens),
        "results": len(flat),
        "unexpected_positives": sum(1 for r in flat if r.is_unexpected_positive),
        "return_to_use_events": len(events),
        "overdose_risk_events": sum(1 for e in events if e.overdose_risk),
        "trajectories": dict(sorted(trajectories.items())),
    }


def _events(
    clients: Sequence[_Client], *, rng: random.Random, now: datetime
) -> list[ReturnToUseEvent]:
    """Returns to use from the calendar and the screens, by the services' rules: a use day (or
    an unexpected positive) after known abstinence from that substance class. It comes from the
    screen when only the screen shows the use."""
    events = []
    for client in clients:
        key = abstinence_key(client.substance)
        screen_map: dict[date, bool] = {}
        positive_screens: dict[date, DrugScreen] = {}
        for day, screen, rows in client.screens:
            for row in rows:
                if abstinence_key(row.substance) != key or row.expected:
                    continue
                positive = row.result == ScreenResultValue.POSITIVE
                screen_map[day] = screen_map.get(day, False) or positive
                if positive:
                    positive_screens[day] = screen
        evidence = abstinence.merge([client.days, screen_map])
        for found in abstinence.returns_to_use(evidence):
            shown_by = None if client.days.get(found.day) else positive_screens.get(found.day)
            events.append(
                ReturnToUseEvent(
                    public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    created_at=now,
                    updated_at=now,
                    organisation_id=client.episode.organisation_id,
                    client_id=client.episode.client_id,
                    episode_id=client.episode.pk,
                    date=found.day,
                    substance=client.substance,
                    source=ReturnSource.SCREEN if shown_by else ReturnSource.CALENDAR,
                    screen=shown_by,
                    after_abstinent_days=found.abstinent_days_before,
                    overdose_risk=abstinence.carries_overdose_risk(
                        opioid=is_opioid(client.substance),
                        abstinent_days_before=found.abstinent_days_before,
                    ),
                    created_by_id=client.clinician_id,
                )
            )
    return events
