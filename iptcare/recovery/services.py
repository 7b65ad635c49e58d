"""Every write to drug screens, days of use and return-to-use events.

Shape (STYLE.md, as in ``scheduling.services``): keyword-only, ``actor`` first; one ``writing``
block — the access decision first (a refusal is recorded and changes nothing), then one
transaction that checks the input in full before anything is written (refusals as
``InvalidInput`` with field errors, recorded as the write's failure), writes the rows and their
history and ends with the write's one audit event. The audit trail holds ids and counts only —
results and days of use are clinical content and stay in the clinical tables (as
``clients.RecordRevision`` does).

Return-to-use events are derived here, from the same evidence everywhere (``_evidence``): days
of use from the calendar plus screens (an unexpected positive is a day of use, a negative a day
without use of that substance). ``abstinence.py`` holds the rules. Withdrawing an event (a
result marked expected, a calendar correction) resolves, in the same transaction, the alerts
that event raised (``measures.services.alerts_resolve_for_withdrawn``) and no others; each
resolution is named in the withdrawing write's one audit event.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models
from django.utils import timezone

from iptcare.access.policy import writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.choices import EpisodeStatus
from iptcare.clients.models import Client, Episode, RecordRevision
from iptcare.core.errors import Conflict, InvalidInput
from iptcare.measures.alerts import RETURN_TO_USE_SOURCE, SCREEN_SOURCE, evaluate_recovery
from iptcare.measures.services import alerts_resolve_for_withdrawn
from iptcare.plans.models import PlanMedication, PlanStatus
from iptcare.recovery import abstinence
from iptcare.recovery.models import (
    MAX_AMOUNT,
    MAX_NOTE,
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
    Analyte,
    Substance,
    abstinence_key,
    analytes_explained_by,
    is_opioid,
)

CATEGORY = DataCategory.CLINICAL_RECORD
PURPOSE = Purpose.TREATMENT
# A screen's collection time may run a little ahead of the server's clock, not more.
CLOCK_SKEW = timedelta(minutes=5)
# One call records at most this many days (a Timeline Followback covers 1-3 months; a year is
# the longest window it is used for — DOMAIN.md §3).
MAX_RANGE_DAYS = 366
Errors = dict[str, list[str]]


@dataclass(frozen=True)
class ResultInput:
    analyte: str
    result: str
    # The clinician says this positive is explained (e.g. a prescription not in the plan).
    expected: bool = False
    expected_reason: str = ""


@dataclass(frozen=True)
class UseDayInput:
    day: date
    substance: str
    used: bool
    amount: str = ""
    # The version the editor saw; required to change a day already recorded (stale → 409).
    version: int | None = None


@dataclass
class UseDaysOutcome:
    created: list[UseDay] = field(default_factory=list)
    changed: list[UseDay] = field(default_factory=list)
    unchanged: list[UseDay] = field(default_factory=list)
    events_created: list[ReturnToUseEvent] = field(default_factory=list)
    events_withdrawn: list[ReturnToUseEvent] = field(default_factory=list)


# --- helpers ------------------------------------------------------------------------------------


def _raise_if(errors: Errors, message: str = "Some fields are invalid.") -> None:
    if errors:
        raise InvalidInput(message, field_errors=errors)


def _full_clean(obj: models.Model, *, prefix: str = "", exclude: Iterable[str] = ()) -> None:
    try:
        # Uniqueness and constraints are the database's job (a concurrent write races a check).
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput(
            "Some fields are invalid.",
            field_errors={
                prefix + (name if name != "__all__" else "non_field_errors"): [str(m) for m in ms]
                for name, ms in exc.message_dict.items()
            },
        ) from exc


def _today() -> date:
    return timezone.localdate()


def _staff_problems(user: User, client: Client) -> list[str]:
    if user.organisation_id != client.organisation_id:
        return ["Not a member of staff of this organisation."]
    if not user.is_active:
        return ["This staff account is deactivated."]
    if client.program_id not in user.program_ids:
        return ["Not assigned to the client's program."]
    return []


def _episodes(client: Client) -> list[Episode]:
    return list(
        Episode.objects.filter(client=client, admission_date__isnull=False).order_by(
            "-admission_date", "-id"
        )
    )


def _episode_on(episodes: Sequence[Episode], day: date) -> Episode | None:
    """The episode of care the client was in on ``day`` (admitted, not yet discharged)."""
    for episode in episodes:
        admitted = episode.admission_date
        if admitted is None or admitted > day:
            continue
        in_care = episode.status in {EpisodeStatus.ADMITTED, EpisodeStatus.DISCHARGED}
        if in_care and (episode.discharge_date is None or day <= episode.discharge_date):
            return episode
    return None


def medication_analytes(client: Client, on: date) -> dict[str, str]:
    """Analyte → the medication explaining it, from the client's active plans on ``on``.

    Only active (signed) plan versions count: a draft is not yet the agreed treatment. A
    medication counts from its start date (or always, without one) to its stop date. One query.
    """
    found: dict[str, str] = {}
    rows = PlanMedication.objects.filter(
        plan__episode__client=client, plan__status=PlanStatus.ACTIVE
    ).values_list("name", "start_date", "stop_date")
    for name, start, stop in rows:
        if (start is not None and start > on) or (stop is not None and stop < on):
            continue
        for analyte in analytes_explained_by(name):
            found.setdefault(analyte, name)
    return found


@dataclass(frozen=True)
class _Evidence:
    days: dict[str, dict[date, bool]]
    # (class, day) → the substance used that day (calendar first, then screens), for events.
    used: dict[tuple[str, date], str]


def _evidence(client: Client, keys: Collection[str]) -> _Evidence:
    """Abstinence key → day map from the calendar and the screens. Two queries.

    An unexpected positive is a day of use, a negative a day without; an expected positive
    (explained by medication) and an invalid result say nothing either way.
    """
    substances = [s for s in Substance.values if abstinence_key(s) in keys]
    calendar: dict[str, dict[date, bool]] = {key: {} for key in keys}
    screens: dict[str, dict[date, bool]] = {key: {} for key in keys}
    used: dict[tuple[str, date], str] = {}
    rows = (
        UseDay.objects.filter(client=client, substance__in=substances)
        .order_by("date", "substance")
        .values_list("date", "substance", "used")
    )
    for day, substance, was_used in rows:
        key = abstinence_key(substance)
        calendar[key][day] = calendar[key].get(day, False) or was_used
        if was_used:
            used.setdefault((key, day), substance)
    tz = timezone.get_current_timezone()
    results = (
        ScreenResult.objects.filter(
            screen__client=client,
            substance__in=substances,
            result__in=[ScreenResultValue.POSITIVE, ScreenResultValue.NEGATIVE],
        )
        .order_by("screen__collected_at", "substance")
        .values_list("screen__collected_at", "substance", "result", "expected")
    )
    for collected_at, substance, result, expected in results:
        if expected:
            continue
        day = collected_at.astimezone(tz).date()
        key = abstinence_key(substance)
        positive = result == ScreenResultValue.POSITIVE
        screens[key][day] = screens[key].get(day, False) or positive
        if positive:
            used.setdefault((key, day), substance)
    return _Evidence(
        days={key: abstinence.merge([calendar[key], screens[key]]) for key in keys}, used=used
    )


def _known_run(day_map: dict[date, bool], day: date) -> int | None:
    """Known abstinent days before ``day``; None when the day before is unknown."""
    run = abstinence.abstinent_run_before(day_map, day)
    if run == 0 and (day - timedelta(days=1)) not in day_map:
        return None
    return run


def _open_events(client: Client) -> list[ReturnToUseEvent]:
    return list(
        ReturnToUseEvent.objects.filter(client=client, withdrawn_at__isnull=True).order_by("id")
    )


def _new_event(
    *,
    actor: User,
    client: Client,
    episodes: Sequence[Episode],
    day: date,
    substance: str,
    source: str,
    run: int | None,
    screen: DrugScreen | None = None,
    note: str = "",
) -> ReturnToUseEvent:
    episode = _episode_on(episodes, day)
    return ReturnToUseEvent(
        organisation_id=client.organisation_id,
        client=client,
        episode=episode,
        date=day,
        substance=substance,
        source=source,
        screen=screen,
        after_abstinent_days=run,
        overdose_risk=abstinence.carries_overdose_risk(
            opioid=is_opioid(substance), abstinent_days_before=run
        ),
        created_by=actor,
        note=note,
    )


def _withdraw(
    events: Sequence[ReturnToUseEvent], *, actor: User, client: Client, reason: str
) -> None:
    """Withdraw unfounded events and resolve the alerts they raised: an alert whose cause was
    withdrawn must not stay in anyone's inbox. Inside the caller's ``writing`` (the resolutions
    are writes nested in it, named in its one audit event), never on its own."""
    if not events:
        return
    now = timezone.now()
    for event in events:
        event.withdrawn_at = now
        event.withdrawn_by = actor
        event.withdrawn_reason = reason
    ReturnToUseEvent.objects.bulk_update(
        events, ["withdrawn_at", "withdrawn_by", "withdrawn_reason", "updated_at"]
    )
    alerts_resolve_for_withdrawn(
        actor=actor,
        client=client,
        source_type=RETURN_TO_USE_SOURCE,
        source_ids=[str(e.public_id) for e in events],
        note=f"The return to use that raised this alert was withdrawn: {reason}.",
    )


def _local_date(moment: datetime) -> date:
    return timezone.localtime(moment).date()


# --- drug screens -------------------------------------------------------------------------------


def _check_results(
    results: Sequence[ResultInput], explained: dict[str, str]
) -> tuple[Errors, list[ScreenResult]]:
    errors: Errors = {}
    rows: list[ScreenResult] = []
    seen: set[str] = set()
    if not results:
        errors["results"] = ["Give the result of at least one substance."]
    for i, item in enumerate(results):
        here: Errors = {}
        if item.analyte not in Analyte.values:
            here[f"results.{i}.analyte"] = ["Choose a substance from the list."]
        elif item.analyte in seen:
            here[f"results.{i}.analyte"] = ["This substance is listed twice."]
        seen.add(item.analyte)
        if item.result not in ScreenResultValue.values:
            here[f"results.{i}.result"] = ["Choose positive, negative or invalid."]
        elif item.expected and item.result != ScreenResultValue.POSITIVE:
            here[f"results.{i}.expected"] = ["Only a positive result can be expected."]
        if len(item.expected_reason) > 200:
            here[f"results.{i}.expected_reason"] = ["Keep the reason under 200 characters."]
        if here:
            errors.update(here)
            continue
        positive = item.result == ScreenResultValue.POSITIVE
        by: str = ""
        reason = ""
        if positive and item.expected:
            by, reason = ExpectedBy.CLINICIAN, item.expected_reason.strip()
        elif positive and item.analyte in explained:
            by, reason = ExpectedBy.MEDICATION, explained[item.analyte][:200]
        rows.append(
            ScreenResult(
                analyte=item.analyte,
                substance=ANALYTE_SUBSTANCE[item.analyte],
                result=item.result,
                expected=bool(by),
                expected_by=by,
                expected_reason=reason,
            )
        )
    return errors, rows


def _screen_events(
    *, actor: User, client: Client, screen: DrugScreen, rows: Sequence[ScreenResult]
) -> list[ReturnToUseEvent]:
    """A return to use for each substance class with an unexpected positive after abstinence."""
    positives: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r.substance):
        if row.is_unexpected_positive:
            positives.setdefault(abstinence_key(row.substance), row.substance)
    if not positives:
        return []
    day = _local_date(screen.collected_at)
    evidence = _evidence(client, positives)
    taken = {
        (abstinence_key(e.substance), e.date)
        for e in _open_events(client)
        if abstinence_key(e.substance) in positives
    }
    episodes = _episodes(client)
    events = []
    for key, substance in positives.items():
        run = abstinence.abstinent_run_before(evidence.days[key], day)
        if (key, day) in taken or run < abstinence.RETURN_MIN_ABSTINENT_DAYS:
            continue
        events.append(
            _new_event(
                actor=actor,
                client=client,
                episodes=episodes,
                day=day,
                substance=substance,
                source=ReturnSource.SCREEN,
                run=run,
                screen=screen,
            )
        )
    return ReturnToUseEvent.objects.bulk_create(events)


def screen_record(
    *,
    actor: User,
    client: Client,
    collected_at: datetime,
    specimen: str,
    results: Sequence[ResultInput],
    collected_by: User | None = None,
    episode: Episode | None = None,
    notes: str = "",
) -> DrugScreen:
    """Record a screen with its per-substance results, in one transaction.

    A positive explained by a medication in the client's active plan is marked expected (by
    medication); the clinician may mark others expected. An unexpected positive after known
    abstinence from that substance (class) creates a ``ReturnToUseEvent``.
    """
    with writing(
        actor, Action.CREATE, client, CATEGORY, PURPOSE, detail={"of": "drug_screen"}
    ) as grant:
        collector = collected_by or actor
        errors: Errors = {}
        if timezone.is_naive(collected_at):
            errors["collected_at"] = ["Give a date and time with a time zone."]
        elif collected_at > timezone.now() + CLOCK_SKEW:
            errors["collected_at"] = ["A screen cannot be collected in the future."]
        if specimen not in Specimen.values:
            errors["specimen"] = ["Choose a specimen type."]
        if problems := _staff_problems(collector, client):
            errors["collected_by"] = problems
        if episode is not None and episode.client_id != client.pk:
            errors["episode"] = ["This episode is not the client's."]
        if len(notes) > MAX_NOTE:
            errors["notes"] = [f"Keep the notes under {MAX_NOTE} characters."]
        day = _local_date(collected_at) if "collected_at" not in errors else _today()
        result_errors, rows = _check_results(results, medication_analytes(client, day))
        errors.update(result_errors)
        _raise_if(errors)
        if episode is None:
            episode = _episode_on(_episodes(client), day)
        screen = DrugScreen(
            organisation_id=client.organisation_id,
            program_id=client.program_id,
            client=client,
            episode=episode,
            collected_at=collected_at,
            specimen=specimen,
            collected_by=collector,
            notes=notes.strip(),
        )
        _full_clean(screen)
        screen.save()
        for row in rows:
            row.screen = screen
        ScreenResult.objects.bulk_create(rows)
        events = _screen_events(actor=actor, client=client, screen=screen, rows=rows)
        evaluate_recovery(
            client=client,
            screen=screen,
            unexpected=sorted({r.get_analyte_display() for r in rows if r.is_unexpected_positive}),
            events=events,
            recorded_by=actor,
        )
        grant.record_as(screen)
        grant.detail.update(
            results=len(rows), return_to_use_events=[str(e.public_id) for e in events]
        )
    return screen


def _screen_snapshot(screen: DrugScreen, rows: Sequence[ScreenResult]) -> dict[str, Any]:
    return {
        "collected_at": screen.collected_at.isoformat(),
        "specimen": screen.specimen,
        "notes": screen.notes,
        "results": [
            {
                "analyte": r.analyte,
                "result": r.result,
                "expected": r.expected,
                "expected_by": r.expected_by,
                "expected_reason": r.expected_reason,
            }
            for r in rows
        ],
    }


def screen_mark_expected(
    *,
    actor: User,
    screen: DrugScreen,
    version: int,
    analytes: Collection[str],
    reason: str,
) -> DrugScreen:
    """A clinician explains positives after the fact (e.g. a prescription learned of later).

    Return-to-use events this screen created for a substance class with no unexpected positive
    left are withdrawn (kept, with the reason) and their alerts resolved; once no unexpected
    positive is left at all, so is the screen's own alert — all in this one write, whose audit
    event names each resolution. A stale ``version`` is a ``Conflict`` (409).
    """
    client = screen.client
    with writing(
        actor,
        Action.UPDATE,
        screen,
        CATEGORY,
        PURPOSE,
        detail={"drug_screen": "mark results expected"},
    ) as grant:
        errors: Errors = {}
        if not analytes:
            errors["analytes"] = ["Choose at least one positive result."]
        if not reason.strip():
            errors["reason"] = ["Say why these results are expected."]
        elif len(reason) > 200:
            errors["reason"] = ["Keep the reason under 200 characters."]
        _raise_if(errors)
        locked = DrugScreen.objects.select_for_update().get(pk=screen.pk)
        if locked.version != version:
            raise Conflict(
                "Someone else changed this screen since you opened it. Reload to see their change."
            )
        rows = list(ScreenResult.objects.filter(screen=locked).order_by("id"))
        by_analyte = {r.analyte: r for r in rows}
        bad = [
            a for a in analytes if a not in by_analyte or not by_analyte[a].is_unexpected_positive
        ]
        _raise_if(
            {"analytes": [f"{a}: not an unexpected positive of this screen." for a in sorted(bad)]}
            if bad
            else {}
        )
        RecordRevision.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            resource_type="drugscreen",
            resource_id=locked.public_id,
            version=locked.version,
            snapshot=_screen_snapshot(locked, rows),
            changed_by=actor,
        )
        changed = [by_analyte[a] for a in analytes]
        for row in changed:
            row.expected, row.expected_by = True, ExpectedBy.CLINICIAN
            row.expected_reason = reason.strip()
        ScreenResult.objects.bulk_update(changed, ["expected", "expected_by", "expected_reason"])
        still = {abstinence_key(r.substance) for r in rows if r.is_unexpected_positive}
        unfounded = [
            e
            for e in ReturnToUseEvent.objects.filter(screen=locked, withdrawn_at__isnull=True)
            if abstinence_key(e.substance) not in still
        ]
        _withdraw(unfounded, actor=actor, client=client, reason="screen result marked expected")
        if not any(r.is_unexpected_positive for r in rows):
            # No unexpected positive left: the screen's own alert lost its cause (ADR 0008).
            alerts_resolve_for_withdrawn(
                actor=actor,
                client=client,
                source_type=SCREEN_SOURCE,
                source_ids=[str(locked.public_id)],
                note=f"Every positive of this screen was marked expected: {reason.strip()}.",
            )
        locked.version += 1
        locked.save(update_fields=["version", "updated_at"])
        grant.detail.update(
            results=len(changed),
            withdrawn_events=[str(e.public_id) for e in unfounded],
            version=locked.version,
        )
    locked.client = client
    return locked


# --- days of use (Timeline Followback) ---------------------------------------------------------


def _check_days(
    start: date, end: date, days: Sequence[UseDayInput], source: str, today: date
) -> Errors:
    errors: Errors = {}
    if end < start:
        errors["end"] = ["The end of the range is before its start."]
    elif (end - start).days + 1 > MAX_RANGE_DAYS:
        errors["end"] = [f"Record at most {MAX_RANGE_DAYS} days at a time."]
    if end > today:
        errors["end"] = ["Days of use cannot be recorded for the future."]
    if source not in UseDaySource.values:
        errors["source"] = ["Say whether this is the client's self-report or an interview."]
    seen: set[tuple[date, str]] = set()
    for i, item in enumerate(days):
        if not start <= item.day <= end:
            errors[f"days.{i}.date"] = [f"Outside the range {start} to {end}."]
        if item.substance not in Substance.values:
            errors[f"days.{i}.substance"] = ["Choose a substance from the list."]
        elif (item.day, item.substance) in seen:
            errors[f"days.{i}.substance"] = ["This day and substance are listed twice."]
        seen.add((item.day, item.substance))
        if len(item.amount) > MAX_AMOUNT:
            errors[f"days.{i}.amount"] = [f"Keep the amount under {MAX_AMOUNT} characters."]
        elif item.amount.strip() and not item.used:
            errors[f"days.{i}.amount"] = ["An amount is only recorded for a day of use."]
    return errors


def _use_day_snapshot(row: UseDay) -> dict[str, Any]:
    return {
        "date": row.date.isoformat(),
        "substance": row.substance,
        "used": row.used,
        "amount": row.amount,
        "source": row.source,
        "recorded_by": str(row.recorded_by_id),
        "version": row.version,
    }


def use_days_record(
    *,
    actor: User,
    client: Client,
    start: date,
    end: date,
    days: Sequence[UseDayInput],
    source: str,
) -> UseDaysOutcome:
    """Record or correct Timeline Followback days between ``start`` and ``end`` in one call.

    Each entry is one day and substance: used or not (an amount only for a day of use). A new
    day is created; a recorded day is changed only when the entry carries the version the
    editor saw (otherwise ``Conflict``, 409) and its previous state goes to the record's
    history; an identical entry changes nothing. Days the call does not mention stay as they
    were (unknown stays unknown). All or nothing. Afterwards the calendar's returns to use from
    ``start`` on are brought up to date: new ones are created, ones no longer supported are
    withdrawn.
    """
    outcome = UseDaysOutcome()
    with writing(
        actor, Action.UPDATE, client, CATEGORY, PURPOSE, detail={"of": "use_days"}
    ) as grant:
        _raise_if(_check_days(start, end, days, source, _today()))
        try:
            _record_days(
                actor=actor,
                client=client,
                start=start,
                end=end,
                days=days,
                source=source,
                outcome=outcome,
            )
        except IntegrityError as exc:
            # Someone else recorded one of these days between our read and our insert.
            raise Conflict(
                "Some of these days were just recorded by someone else. Reload."
            ) from exc
        grant.detail.update(
            start=start.isoformat(),
            end=end.isoformat(),
            created=len(outcome.created),
            changed=len(outcome.changed),
            unchanged=len(outcome.unchanged),
            return_to_use_events=[str(e.public_id) for e in outcome.events_created],
            withdrawn_events=[str(e.public_id) for e in outcome.events_withdrawn],
        )
    return outcome


def _record_days(
    *,
    actor: User,
    client: Client,
    start: date,
    end: date,
    days: Sequence[UseDayInput],
    source: str,
    outcome: UseDaysOutcome,
) -> None:
    """``use_days_record``'s rows, in its write: lock the range, create, change (stale →
    ``Conflict``), keep the history, bring the calendar's returns to use up to date."""
    existing = {
        (row.date, row.substance): row
        for row in UseDay.objects.select_for_update().filter(
            client=client, date__gte=start, date__lte=end
        )
    }
    errors: Errors = {}
    revisions: list[RecordRevision] = []
    for i, item in enumerate(days):
        amount = item.amount.strip() if item.used else ""
        row = existing.get((item.day, item.substance))
        if row is None:
            if item.version is not None:
                errors[f"days.{i}.version"] = ["This day has not been recorded yet."]
                continue
            new = UseDay(
                organisation_id=client.organisation_id,
                client=client,
                date=item.day,
                substance=item.substance,
                used=item.used,
                amount=amount,
                source=source,
                recorded_by=actor,
            )
            _full_clean(new, prefix=f"days.{i}.", exclude=["organisation", "client", "recorded_by"])
            outcome.created.append(new)
            continue
        if (row.used, row.amount, row.source) == (item.used, amount, source):
            outcome.unchanged.append(row)
            continue
        if item.version != row.version:
            raise Conflict(
                f"{item.day} ({item.substance}) was changed since you opened the "
                "calendar. Reload to see the change."
            )
        revisions.append(
            RecordRevision(
                organisation_id=client.organisation_id,
                client=client,
                resource_type="useday",
                resource_id=row.public_id,
                version=row.version,
                snapshot=_use_day_snapshot(row),
                changed_by=actor,
            )
        )
        row.used, row.amount, row.source = item.used, amount, source
        row.recorded_by = actor
        row.version += 1
        outcome.changed.append(row)
    _raise_if(errors)
    UseDay.objects.bulk_create(outcome.created)
    UseDay.objects.bulk_update(
        outcome.changed,
        ["used", "amount", "source", "recorded_by", "version", "updated_at"],
    )
    RecordRevision.objects.bulk_create(revisions)
    touched = {abstinence_key(r.substance) for r in outcome.created + outcome.changed}
    if touched:
        _sync_calendar_events(
            actor=actor, client=client, keys=touched, since=start, outcome=outcome
        )
        evaluate_recovery(client=client, events=outcome.events_created, recorded_by=actor)


def _sync_calendar_events(
    *, actor: User, client: Client, keys: set[str], since: date, outcome: UseDaysOutcome
) -> None:
    """Calendar-derived returns to use on or after ``since`` (the edit cannot change earlier
    ones) match the evidence: missing ones are created, unsupported or recounted ones
    withdrawn (a recount gets a new event with the new count)."""
    evidence = _evidence(client, keys)
    open_events = [e for e in _open_events(client) if abstinence_key(e.substance) in keys]
    taken = {(abstinence_key(e.substance), e.date) for e in open_events if e.date >= since}
    calendar_events = {
        (abstinence_key(e.substance), e.date): e
        for e in open_events
        if e.source == ReturnSource.CALENDAR and e.date >= since
    }
    onsets = {
        (key, r.day): r.abstinent_days_before
        for key in keys
        for r in abstinence.returns_to_use(evidence.days[key])
        if r.day >= since
    }
    withdraw = [
        e
        for k, e in calendar_events.items()
        if k not in onsets or onsets[k] != e.after_abstinent_days
    ]
    _withdraw(
        withdraw,
        actor=actor,
        client=client,
        reason="calendar corrected: return to use recounted",
    )
    outcome.events_withdrawn = withdraw
    still_taken = taken - {(abstinence_key(e.substance), e.date) for e in withdraw}
    episodes = _episodes(client) if onsets else []
    new = [
        _new_event(
            actor=actor,
            client=client,
            episodes=episodes,
            day=day,
            substance=evidence.used[(key, day)],
            source=ReturnSource.CALENDAR,
            run=run,
        )
        for (key, day), run in sorted(onsets.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        if (key, day) not in still_taken
    ]
    outcome.events_created = ReturnToUseEvent.objects.bulk_create(new)


# --- clinician-reported return to use -----------------------------------------------------------


def return_to_use_report(
    *,
    actor: User,
    client: Client,
    day: date,
    substance: str,
    note: str = "",
    after_abstinent_days: int | None = None,
) -> ReturnToUseEvent:
    """A clinician records a return to use the client told them about.

    Without ``after_abstinent_days`` the known abstinent days before ``day`` are counted from
    the calendar and screens (None when the day before is unknown).
    """
    with writing(
        actor, Action.CREATE, client, CATEGORY, PURPOSE, detail={"of": "return_to_use"}
    ) as grant:
        errors: Errors = {}
        if substance not in Substance.values:
            errors["substance"] = ["Choose a substance from the list."]
        if day > _today():
            errors["date"] = ["A return to use cannot be in the future."]
        if after_abstinent_days is not None and not 0 <= after_abstinent_days <= 36_500:
            errors["after_abstinent_days"] = ["Give a number of days from 0."]
        if len(note) > MAX_NOTE:
            errors["note"] = [f"Keep the note under {MAX_NOTE} characters."]
        _raise_if(errors)
        run = after_abstinent_days
        if run is None:
            key = abstinence_key(substance)
            run = _known_run(_evidence(client, {key}).days[key], day)
        event = _new_event(
            actor=actor,
            client=client,
            episodes=_episodes(client),
            day=day,
            substance=substance,
            source=ReturnSource.CLINICIAN,
            run=run,
            note=note.strip(),
        )
        _full_clean(event, exclude=["client", "created_by", "screen", "episode"])
        event.save()
        evaluate_recovery(client=client, events=[event], recorded_by=actor)
        grant.record_as(event)
        grant.detail["source"] = ReturnSource.CLINICIAN
    return event
