"""Writes about measure schedules: saving an episode's schedule, and the daily sweep that raises
"measure overdue" alerts.

Kept apart from ``services.py`` (administrations, links, the alert life cycle) because the
sweep is a program-level job, not a clinician's action; both follow the service shape of
STYLE.md (keyword-only, atomic, audited).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from iptcare.access.policy import writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.models import Outcome
from iptcare.audit.services import record
from iptcare.clients.models import Episode
from iptcare.core.errors import Conflict, InvalidInput
from iptcare.measures import alerts, engine, schedules
from iptcare.measures.models import Alert, AlertKind, AlertStatus, MeasureSchedule
from iptcare.measures.selectors import OPEN_EPISODE, EpisodeDates, measures_for_episodes

CATEGORY = DataCategory.CLINICAL_RECORD
SWEEP_ACTOR = "system (measures-sweep)"
OVERDUE_KEY = "overdue_measure:"


# --- an episode's schedule ----------------------------------------------------------------------


def _schedule_errors(rules: Sequence[schedules.ScheduleRule]) -> dict[str, list[str]]:
    """Field errors keyed ``<instrument>.<field>`` (``schedule`` for the whole set)."""
    errors: dict[str, list[str]] = {}
    known = engine.load_all()
    seen: set[str] = set()
    for rule in rules:
        code = rule.instrument
        if code not in known:
            errors[f"{code}.instrument"] = ["No such instrument."]
        elif code in seen:
            errors[f"{code}.instrument"] = ["Listed twice."]
        elif rule.is_empty:
            errors[f"{code}.instrument"] = ["Say when it is given, or leave it out."]
        seen.add(code)
        if rule.every_sessions is not None and not (
            1 <= rule.every_sessions <= schedules.MAX_EVERY_SESSIONS
        ):
            errors[f"{code}.every_sessions"] = [
                f"Between 1 and {schedules.MAX_EVERY_SESSIONS} sessions."
            ]
        if rule.every_days is not None and not 1 <= rule.every_days <= schedules.MAX_EVERY_DAYS:
            errors[f"{code}.every_days"] = [f"Between 1 and {schedules.MAX_EVERY_DAYS} days."]
    if not rules:
        # An episode with no stored rows follows the program default, so "no measures" cannot be
        # stored; measurement-based care measures every episode (issue 5).
        errors["schedule"] = ["Choose at least one measure."]
    return errors


def schedule_set(
    *,
    actor: User,
    episode: Episode,
    rows: Sequence[schedules.ScheduleRule],
    based_on: int | None = None,
) -> list[MeasureSchedule]:
    """Replace an episode's measure schedule. The rows it replaces stay, deactivated (history).

    ``based_on``: the version the editor started from (0: the program default); a save by
    someone else since then is refused with a 409, not silently overwritten."""
    with writing(
        actor,
        Action.UPDATE,
        episode,
        CATEGORY,
        Purpose.TREATMENT,
        detail={"measure_schedule": [r.instrument for r in rows]},
    ):
        errors = _schedule_errors(rows)
        if errors:
            raise InvalidInput("The schedule was not saved.", field_errors=errors)
        # Serialise saves of one episode's schedule (version numbering).
        Episode.objects.select_for_update().filter(pk=episode.pk).values_list("pk").first()
        current = (
            MeasureSchedule.objects.filter(episode=episode).aggregate(v=Max("version"))["v"] or 0
        )
        if based_on is not None and based_on != current:
            raise Conflict(
                "Someone else changed this schedule since you opened it "
                f"(now at version {current}, you edited {based_on}). Reload to see their change."
            )
        now = timezone.now()
        MeasureSchedule.objects.filter(episode=episode, active=True).update(
            active=False, deactivated_at=now, deactivated_by=actor, updated_at=now
        )
        saved = MeasureSchedule.objects.bulk_create(
            [
                MeasureSchedule(
                    organisation_id=episode.organisation_id,
                    episode=episode,
                    version=current + 1,
                    instrument=r.instrument,
                    at_admission=r.at_admission,
                    every_sessions=r.every_sessions,
                    every_days=r.every_days,
                    at_discharge=r.at_discharge,
                    created_by=actor,
                )
                for r in rows
            ]
        )
    return saved


# --- overdue measures ---------------------------------------------------------------------------


def overdue_finding(status: schedules.DueStatus) -> alerts.Finding | None:
    """The "measure overdue" alert rule: one open alert per client and instrument."""
    if not status.overdue or status.overdue_since is None:
        return None
    known = engine.load_all().get(status.instrument)
    title = known.title if known else status.instrument.upper()
    due = f" (due {status.due_on:%Y-%m-%d})" if status.due_on else ""
    return alerts.Finding(
        kind=AlertKind.OVERDUE_MEASURE,
        title=f"{title}: overdue",
        detail=(
            f"Scheduled {status.describe()}{due}. Give it at the next contact or send the "
            "client a link; change the episode's schedule if it no longer fits."
        ),
        dedupe_key=f"{OVERDUE_KEY}{status.instrument}",
    )


@dataclass(frozen=True)
class SweepResult:
    episodes: int
    overdue: int  # overdue measures found
    raised: int  # new alerts (the rest already had an unresolved one)


def overdue_sweep(*, today: date | None = None, batch: int = 500) -> SweepResult:
    """Raise a "measure overdue" alert for every overdue scheduled measure of every open,
    admitted episode. Idempotent: a measure that already has an unresolved alert gets no second
    one. Reads in batches of ``batch`` episodes (four queries each); writes one alert and one
    audit event, in one transaction, per new alert."""
    today = today or timezone.localdate()
    episodes = overdue = raised = 0
    after = 0
    while True:
        chunk = list(
            Episode.objects.filter(
                pk__gt=after, status__in=OPEN_EPISODE, admission_date__isnull=False
            )
            .select_related("client", "organisation", "primary_clinician")
            .order_by("pk")[:batch]
        )
        if not chunk:
            break
        after = chunk[-1].pk
        episodes += len(chunk)
        measures = measures_for_episodes([EpisodeDates.of(e) for e in chunk], today=today)
        found = [
            (episode, finding)
            for episode in chunk
            for status in measures[episode.pk].due
            if (finding := overdue_finding(status)) is not None
        ]
        overdue += len(found)
        if not found:
            continue
        unresolved = set(
            Alert.objects.filter(
                client_id__in={e.client_id for e, _ in found},
                dedupe_key__startswith=OVERDUE_KEY,
            )
            .exclude(status=AlertStatus.RESOLVED)
            .values_list("client_id", "dedupe_key")
        )
        for episode, finding in found:
            if (episode.client_id, finding.dedupe_key) in unresolved:
                continue
            with transaction.atomic():
                alert = alerts.raise_alert(
                    client=episode.client,
                    episode=episode,
                    finding=finding,
                    source_type="schedule",
                    source_id=str(episode.public_id),
                )
                record(
                    actor=None,
                    actor_email=SWEEP_ACTOR,
                    action=Action.CREATE,
                    data_category=CATEGORY,
                    outcome=Outcome.SUCCESS,
                    organisation_id=episode.organisation.public_id,
                    client_id=episode.client.public_id,
                    resource_type="alert",
                    resource_id=str(alert.public_id),
                    purpose=Purpose.TREATMENT,
                    reason="a scheduled measure is overdue",
                    detail={"measure": finding.dedupe_key.removeprefix(OVERDUE_KEY)},
                )
            unresolved.add((episode.client_id, finding.dedupe_key))
            raised += 1
    return SweepResult(episodes=episodes, overdue=overdue, raised=raised)
