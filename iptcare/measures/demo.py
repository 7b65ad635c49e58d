"""Demo administrations with trajectories of every kind, and the alerts they raise.

Bulk writes only. Trajectories: improving, flat, deteriorating, a safety flag, and dropout (a
run of no-shows, from the scheduling demo). The alert rules are the same pure functions the
services use, so what the demo shows is what the product would raise.

Every chosen episode also gets a stored measure schedule (the program default; some add a
monthly AUDIT-C), AUDIT and DAST-10 at admission for most, and the "measure overdue" alerts the
daily sweep would raise for what its schedule says is overdue today.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from iptcare.clients.models import Episode
from iptcare.measures import alerts, engine, fhir, program_settings, schedules
from iptcare.measures.models import (
    Administration,
    Alert,
    AlertKind,
    AlertStatus,
    MeasureSchedule,
    Mode,
)
from iptcare.measures.schedule_services import overdue_finding
from iptcare.scheduling.models import ATTENDED_STATUSES, Appointment

# More would make `iptcare demo --clients 20000` slow for no gain in what the demo shows.
MAX_EPISODES = 600
TRAJECTORIES = (
    ("improving", 0.55),
    ("flat", 0.2),
    ("deteriorating", 0.12),
    ("safety", 0.08),
    ("incomplete", 0.05),
)


def _pick(rng: random.Random) -> str:
    roll, acc = rng.random(), 0.0
    for name, share in TRAJECTORIES:
        acc += share
        if roll < acc:
            return name
    return TRAJECTORIES[0][0]


def _totals(kind: str, n: int, high: int, rng: random.Random) -> list[int]:
    start = rng.randint(int(high * 0.45), int(high * 0.75))
    if kind == "improving":
        step = rng.uniform(1.5, 3.0)
        return [max(0, round(start - step * i + rng.uniform(-1, 1))) for i in range(n)]
    if kind == "deteriorating":
        start = rng.randint(int(high * 0.25), int(high * 0.4))
        step = rng.uniform(2.0, 3.0)
        return [min(high, round(start + step * i)) for i in range(n)]
    return [min(high, max(0, start + rng.randint(-2, 2))) for _ in range(n)]


def _answers(instrument: engine.Instrument, total: int, rng: random.Random) -> dict[str, str]:
    """Option codes whose scores add up to ``total`` (items in random order)."""
    answers: dict[str, str] = {}
    left = total
    items = list(instrument.items)
    rng.shuffle(items)
    for item in items:
        options = sorted(item.options, key=lambda o: o.score)
        fitting = [o for o in options if o.score <= left]
        option = fitting[-1] if fitting else options[0]
        answers[item.number] = option.code
        left -= option.score
    return answers


def _administration(
    episode: Episode,
    instrument: engine.Instrument,
    answers: dict[str, str],
    at: datetime,
    mode: str,
) -> Administration:
    result = engine.score(instrument, answers)
    public_id = uuid.uuid4()
    return Administration(
        public_id=public_id,
        organisation_id=episode.organisation_id,
        program_id=episode.program_id,
        client_id=episode.client_id,
        episode_id=episode.pk,
        instrument=instrument.code,
        instrument_version=instrument.version,
        mode=mode,
        administered_by_id=episode.primary_clinician_id,
        completed_at=at,
        answers=answers,
        item_scores=dict(result.item_scores),
        total=result.total,
        band=result.band.code if result.band else "",
        band_label=result.band.label if result.band else "",
        subscales=dict(result.subscales),
        flags=[f.to_dict() for f in result.flags],
        screens=[s.to_dict() for s in result.screens],
        complete=result.complete,
        missing=list(result.missing),
        questionnaire_response=fhir.questionnaire_response(
            instrument=instrument,
            answers=answers,
            result=result,
            administration_id=public_id,
            client_id=episode.client.public_id,
            authored=at,
        ),
        observations=fhir.observations(
            instrument=instrument,
            result=result,
            administration_id=public_id,
            client_id=episode.client.public_id,
            effective=at,
        ),
    )


# Share of demo episodes whose AUDIT and DAST-10 were given at admission; the rest show as
# overdue on the caseload and in the alert inbox.
ADMISSION_SCREENS_GIVEN = 0.85
# Share of demo episodes whose clinician added a monthly AUDIT-C to the program default.
MONTHLY_AUDIT_C = 0.15


def generate(*, episodes: Sequence[Episode], rng: random.Random, today: date) -> int:
    chosen = [e for e in episodes if e.admission_date is not None][:MAX_EPISODES]
    phq9, gad7 = engine.get("phq-9"), engine.get("gad-7")
    screens = [(engine.get("audit"), 40), (engine.get("dast-10"), 10)]
    tz = timezone.get_current_timezone()
    rows: list[Administration] = []
    new_alerts: list[Alert] = []
    plans: list[MeasureSchedule] = []
    given: dict[int, dict[str, list[date]]] = {}
    now = timezone.now()
    for episode in chosen:
        assert episode.admission_date is not None
        kind = _pick(rng)
        days = max((today - episode.admission_date).days, 1)
        n = max(2, min(7, days // 14 + 1))
        dates = [episode.admission_date + timedelta(days=round(i * days / n)) for i in range(n)]
        series: dict[str, list[Administration]] = {}
        mine: list[Administration] = []
        for instrument, high in ((phq9, 27), (gad7, 21)):
            for i, (day, total) in enumerate(zip(dates, _totals(kind, n, high, rng), strict=True)):
                answers = _answers(instrument, total, rng)
                if instrument is phq9:
                    answers["9"] = "0"
                    if kind == "safety" and i == n - 1:
                        answers["9"] = "1"
                if kind == "incomplete" and i == n - 1:
                    answers.pop(next(iter(answers)))
                at = datetime.combine(day, time(10, 0), tzinfo=tz)
                mode = Mode.LINK if rng.random() < 0.3 else Mode.IN_SESSION
                row = _administration(episode, instrument, answers, at, mode)
                mine.append(row)
                series.setdefault(instrument.code, []).append(row)
        if rng.random() < ADMISSION_SCREENS_GIVEN:
            at = datetime.combine(episode.admission_date, time(10, 30), tzinfo=tz)
            for instrument, high in screens:
                answers = _answers(instrument, rng.randint(int(high * 0.2), int(high * 0.6)), rng)
                mine.append(_administration(episode, instrument, answers, at, Mode.IN_SESSION))
        rows += mine
        given[episode.pk] = {}
        for row in mine:
            given[episode.pk].setdefault(row.instrument, []).append(
                row.completed_at.astimezone(tz).date()
            )
        schedule = schedules.default_schedule(episode)
        custom = rng.random() < MONTHLY_AUDIT_C
        if custom:
            schedule.append(schedules.ScheduleRule("audit-c", every_days=30))
        plans += [
            MeasureSchedule(
                organisation_id=episode.organisation_id,
                episode_id=episode.pk,
                version=1,
                instrument=rule.instrument,
                at_admission=rule.at_admission,
                every_sessions=rule.every_sessions,
                every_days=rule.every_days,
                at_discharge=rule.at_discharge,
                created_by_id=episode.primary_clinician_id if custom else None,
            )
            for rule in schedule
        ]
        findings: list[tuple[alerts.Finding, str]] = []
        for code, admin_rows in series.items():
            instrument = engine.get(code)
            scored = [a for a in admin_rows if a.total is not None]
            for a in admin_rows:
                findings += [
                    (f, str(a.public_id))
                    for f in alerts.safety_findings(code, a.flags, str(a.public_id))
                ]
            if len(scored) >= 2:
                base, last = scored[0].total, scored[-1].total
                found = alerts.deterioration_finding(instrument, base, last)
                if found is None:
                    found = alerts.not_on_track_finding(
                        instrument,
                        base,
                        last,
                        len(dates) * 2,
                        program_settings.default_not_on_track_session(),
                    )
                if found is not None:
                    findings.append((found, str(scored[-1].public_id)))
        for finding, source in findings:
            new_alerts.append(
                _alert(
                    episode,
                    finding,
                    ("administration", source),
                    now - timedelta(hours=rng.randint(1, 72)),
                )
            )
    # Dropout: a run of no-shows among the chosen clients' past appointments.
    statuses: dict[int, list[str]] = {}
    sessions: dict[int, list[date]] = {}
    for client_id, status, starts_at in (
        Appointment.objects.filter(client_id__in=[e.client_id for e in chosen], starts_at__lte=now)
        .exclude(status__in=("scheduled", "cancelled_program"))
        .order_by("client_id", "-starts_at")
        .values_list("client_id", "status", "starts_at")
    ):
        statuses.setdefault(client_id, []).append(status)
        if status in ATTENDED_STATUSES:
            sessions.setdefault(client_id, []).append(starts_at.astimezone(tz).date())
    for episode in chosen:
        dropout = alerts.no_show_finding(statuses.get(episode.client_id, []))
        if dropout is not None:
            new_alerts.append(
                _alert(
                    episode,
                    dropout,
                    (alerts.ATTENDANCE_SOURCE, ""),
                    now - timedelta(hours=rng.randint(1, 72)),
                )
            )
    # What the daily sweep would raise today for these schedules (the same rule and function).
    rules_by_episode: dict[int, list[schedules.ScheduleRule]] = {}
    for plan in plans:
        rules_by_episode.setdefault(plan.episode_id, []).append(plan.rule())
    for episode in chosen:
        due = schedules.schedule_status(
            rules_by_episode[episode.pk],
            admission_date=episode.admission_date,
            session_dates=sessions.get(episode.client_id, []),
            administered=given[episode.pk],
            today=today,
        )
        for owed in due:
            overdue = overdue_finding(owed)
            if overdue is not None:
                new_alerts.append(
                    _alert(
                        episode,
                        overdue,
                        ("schedule", str(episode.public_id)),
                        now - timedelta(hours=rng.randint(1, 24)),
                    )
                )
    new_alerts += _recovery_alerts(episodes, today=today, now=now, rng=rng)
    # Some non-safety alerts were already handled, so the demo shows the whole life cycle:
    # about a quarter acknowledged, and about one in six also resolved with a note.
    for alert in new_alerts:
        if alert.immediate or alert.clinician_id is None:
            continue
        draw = rng.random()
        if draw < 0.4:
            alert.status = AlertStatus.ACKNOWLEDGED
            alert.acknowledged_at = alert.raised_at + timedelta(hours=2)
            alert.acknowledged_by_id = alert.clinician_id
            alert.action_note = "Discussed with the client at the next session."
        # An overdue measure stays unresolved while it is still owed (the sweep would raise it
        # again).
        if draw < 0.15 and alert.kind != AlertKind.OVERDUE_MEASURE:
            alert.status = AlertStatus.RESOLVED
            alert.resolved_at = min(now, alert.raised_at + timedelta(hours=20))
            alert.resolved_by_id = alert.clinician_id
            alert.resolution_note = "Reviewed in session; the plan was updated."
    Administration.objects.bulk_create(rows, batch_size=500)
    MeasureSchedule.objects.bulk_create(plans, batch_size=1000)
    Alert.objects.bulk_create(new_alerts, batch_size=500)
    return len(rows)


def _alert(
    episode: Episode, finding: alerts.Finding, source: tuple[str, str], raised_at: datetime
) -> Alert:
    """The alert the live rule would have raised for ``finding``, to the episode's clinician."""
    return Alert(
        organisation_id=episode.organisation_id,
        program_id=episode.program_id,
        client_id=episode.client_id,
        episode_id=episode.pk,
        clinician_id=episode.primary_clinician_id,
        raised_at=raised_at,
        **alerts.finding_fields(finding, source),
    )


def _recovery_alerts(
    episodes: Sequence[Episode], *, today: date, now: datetime, rng: random.Random
) -> list[Alert]:
    """The alerts the recovery demo's recent screens and returns to use would have raised
    (the same finding functions as ``alerts.evaluate_recovery``)."""
    from iptcare.recovery.models import ReturnToUseEvent, ScreenResult

    by_client = {e.client_id: e for e in episodes}
    since = today - timedelta(days=21)  # recent causes only: older ones were dealt with
    out: list[Alert] = []

    def alert(episode: Episode, finding: alerts.Finding, source: tuple[str, str]) -> Alert:
        return _alert(episode, finding, source, now - timedelta(hours=rng.randint(1, 96)))

    unexpected: dict[tuple[int, str], list[str]] = {}
    for client_id, screen_uuid, analyte in (
        ScreenResult.objects.filter(
            screen__client_id__in=list(by_client),
            screen__collected_at__date__gte=since,
            result="positive",
            expected=False,
        )
        .order_by("screen_id", "analyte")
        .values_list("screen__client_id", "screen__public_id", "analyte")
    ):
        unexpected.setdefault((client_id, str(screen_uuid)), []).append(analyte)
    for (client_id, screen_id), analytes in unexpected.items():
        found = alerts.unexpected_positive_finding(screen_id, analytes)
        if found is not None:
            out.append(alert(by_client[client_id], found, ("drug_screen", screen_id)))
    for event in ReturnToUseEvent.objects.filter(
        client_id__in=list(by_client), withdrawn_at__isnull=True, date__gte=since
    ):
        for found in alerts.return_to_use_findings(
            event_id=str(event.public_id),
            substance=event.get_substance_display(),
            source=event.source,
            after_days=event.after_abstinent_days,
            overdose_risk=event.overdose_risk,
        ):
            out.append(
                alert(
                    by_client[event.client_id], found, ("return_to_use_event", str(event.public_id))
                )
            )
    return out
