"""Recovery services: valid writes, derived returns to use, and every refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode, RecordRevision
from iptcare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iptcare.plans.models import TreatmentPlan
from iptcare.recovery import selectors, services
from iptcare.recovery.models import (
    DrugScreen,
    ExpectedBy,
    ReturnSource,
    ReturnToUseEvent,
    ScreenResult,
    UseDay,
    UseDaySource,
)
from iptcare.recovery.services import ResultInput, UseDayInput
from tests.helpers import last_audit_id
from tests.recovery.conftest import TODAY, MakeScreen, RecordDays, at, days_ago


def _state() -> tuple[int, ...]:
    return (
        DrugScreen.objects.count(),
        ScreenResult.objects.count(),
        UseDay.objects.count(),
        ReturnToUseEvent.objects.count(),
        RecordRevision.objects.count(),
        sum(UseDay.objects.values_list("version", flat=True)),
    )


# --- drug screens -------------------------------------------------------------------------------


def test_record_a_screen(theo: User, client_record: Client, episode: Episode) -> None:
    before = last_audit_id()
    screen = services.screen_record(
        actor=theo,
        client=client_record,
        collected_at=at(days_ago(1)),
        specimen="urine",
        results=[
            ResultInput("opiates", "negative"),
            ResultInput("fentanyl", "negative"),
            ResultInput("thc", "invalid"),
        ],
        notes="  observed collection ",
    )
    assert (screen.episode, screen.collected_by, screen.notes) == (
        episode,
        theo,
        "observed collection",
    )
    assert sorted(screen.results.values_list("analyte", "substance", "result", "expected")) == [
        ("fentanyl", "other_opiates", "negative", False),
        ("opiates", "other_opiates", "negative", False),
        ("thc", "marijuana", "invalid", False),
    ]
    # One event for the write, naming the new screen.
    [event] = AuditEvent.objects.filter(id__gt=before)
    assert (event.action, event.outcome, event.resource_type, event.resource_id) == (
        "create",
        "success",
        "drug_screen",
        str(screen.public_id),
    )
    assert (event.actor_role, event.reason) == ("therapist", "Therapist may create clinical_record")
    # The trail holds counts and ids, never the results.
    assert event.detail == {"of": "drug_screen", "results": 3, "return_to_use_events": []}
    assert not ReturnToUseEvent.objects.exists()


def test_medication_in_the_active_plan_makes_its_positive_expected(
    theo: User, client_record: Client, on_buprenorphine: TreatmentPlan, make_screen: MakeScreen
) -> None:
    screen = make_screen(days_ago(1), buprenorphine="positive", fentanyl="positive")
    rows = {r.analyte: r for r in screen.results.all()}
    assert (rows["buprenorphine"].expected, rows["buprenorphine"].expected_by) == (
        True,
        ExpectedBy.MEDICATION,
    )
    assert rows["buprenorphine"].expected_reason == "Buprenorphine/naloxone"
    # Fentanyl is not explained by buprenorphine, although TEDS files both as "other opiates".
    assert rows["fentanyl"].is_unexpected_positive


def test_without_an_active_plan_nothing_is_expected_by_medication(
    client_record: Client, episode: Episode, make_screen: MakeScreen
) -> None:
    screen = make_screen(days_ago(1), buprenorphine="positive")
    assert screen.results.get().is_unexpected_positive


def test_the_clinician_marks_a_positive_expected(theo: User, client_record: Client) -> None:
    screen = services.screen_record(
        actor=theo,
        client=client_record,
        collected_at=at(days_ago(1)),
        specimen="oral_fluid",
        results=[ResultInput("benzodiazepines", "positive", True, "Clonazepam from the GP")],
    )
    row = screen.results.get()
    assert (row.expected, row.expected_by, row.expected_reason) == (
        True,
        ExpectedBy.CLINICIAN,
        "Clonazepam from the GP",
    )


@pytest.mark.parametrize(("abstinent", "risk"), [(6, False), (7, True)])
def test_unexpected_positive_after_abstinence_is_a_return_to_use(
    record_days: RecordDays, make_screen: MakeScreen, abstinent: int, risk: bool
) -> None:
    record_days("u" + "a" * abstinent, end_ago=1)
    screen = make_screen(TODAY, fentanyl="positive", cocaine="negative")
    [event] = ReturnToUseEvent.objects.filter(source=ReturnSource.SCREEN)
    assert (event.screen, event.date, event.substance) == (screen, TODAY, "other_opiates")
    assert (event.after_abstinent_days, event.overdose_risk) == (abstinent, risk)


def test_an_expected_positive_or_unknown_days_before_raise_no_event(
    record_days: RecordDays, make_screen: MakeScreen, on_buprenorphine: TreatmentPlan
) -> None:
    record_days("aaaaaaaa", end_ago=1)
    make_screen(TODAY, buprenorphine="positive")  # explained by medication
    record_days("aaaaaaaa", substance="alcohol", end_ago=3)
    make_screen(TODAY, alcohol="positive")  # the two days before are unknown
    assert not ReturnToUseEvent.objects.exists()


def test_an_opioid_screen_counts_abstinence_from_all_opioids(
    record_days: RecordDays, make_screen: MakeScreen
) -> None:
    """Heroin yesterday: an oxycodone positive today is not after abstinence from opioids.

    Yesterday's heroin, after eight days without any opioid, is itself the return to use."""
    record_days("aaaaaaaaa", substance="other_opiates", end_ago=1)
    [heroin] = record_days("u", substance="heroin", end_ago=1).events_created
    assert (heroin.substance, heroin.after_abstinent_days) == ("heroin", 8)
    make_screen(TODAY, oxycodone="positive")
    assert not ReturnToUseEvent.objects.filter(source=ReturnSource.SCREEN).exists()


def _screen_kwargs(theo: User, client: Client) -> dict[str, Any]:
    return {
        "actor": theo,
        "client": client,
        "collected_at": at(days_ago(1)),
        "specimen": "urine",
        "results": [ResultInput("opiates", "negative")],
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"collected_at": timezone.now() + timedelta(hours=2)}, "collected_at"),
        ({"collected_at": at(days_ago(1)).replace(tzinfo=None)}, "collected_at"),
        ({"specimen": "sweat"}, "specimen"),
        ({"results": []}, "results"),
        ({"results": [ResultInput("glue", "positive")]}, "results.0.analyte"),
        ({"results": [ResultInput("opiates", "maybe")]}, "results.0.result"),
        (
            {"results": [ResultInput("opiates", "negative"), ResultInput("opiates", "positive")]},
            "results.1.analyte",
        ),
        ({"results": [ResultInput("opiates", "negative", expected=True)]}, "results.0.expected"),
        ({"notes": "x" * 2001}, "notes"),
        ({"collected_by": "tess"}, "collected_by"),
        ({"episode": "other"}, "episode"),
    ],
)
def test_screen_bad_input_changes_nothing(
    request: pytest.FixtureRequest,
    theo: User,
    client_record: Client,
    make_client_in: Callable[..., Client],
    change: dict[str, Any],
    field: str,
) -> None:
    kwargs = _screen_kwargs(theo, client_record)
    if change.get("collected_by") == "tess":
        change = {"collected_by": request.getfixturevalue("tess")}
    if change.get("episode") == "other":
        other = make_client_in()
        change = {
            "episode": Episode.objects.create(
                organisation=other.organisation,
                program=other.program,
                client=other,
                referral_date=days_ago(5),
                referral_source="individual",
            )
        }
    kwargs.update(change)
    before = _state()
    with pytest.raises(InvalidInput) as exc:
        services.screen_record(**kwargs)
    assert field in exc.value.field_errors
    assert _state() == before


def test_an_outsider_cannot_record_a_screen(tess: User, oscar: User, client_record: Client) -> None:
    before = _state()
    with pytest.raises(Forbidden):
        services.screen_record(**{**_screen_kwargs(tess, client_record), "actor": tess})
    with pytest.raises(NotFound):
        services.screen_record(**{**_screen_kwargs(oscar, client_record), "actor": oscar})
    assert _state() == before
    assert AuditEvent.objects.filter(outcome="denied").count() == 2


def test_mark_expected_later_withdraws_the_screens_event(
    theo: User, record_days: RecordDays, make_screen: MakeScreen
) -> None:
    record_days("aaaaaaa", end_ago=1)
    screen = make_screen(TODAY, fentanyl="positive", opiates="positive")
    [event] = ReturnToUseEvent.objects.all()
    loaded = selectors.screen_get(actor=theo, public_id=screen.public_id)
    updated = services.screen_mark_expected(
        actor=theo, screen=loaded, version=1, analytes=["fentanyl"], reason="hospital stay"
    )
    assert updated.version == 2
    event.refresh_from_db()
    assert event.withdrawn_at is None  # opiates is still unexpected
    services.screen_mark_expected(
        actor=theo, screen=loaded, version=2, analytes=["opiates"], reason="hospital stay"
    )
    event.refresh_from_db()
    assert event.is_withdrawn and event.withdrawn_reason == "screen result marked expected"
    history = RecordRevision.objects.filter(resource_id=screen.public_id).order_by("version")
    assert [h.version for h in history] == [1, 2]
    assert {r["analyte"]: r["expected"] for r in history[0].snapshot["results"]} == {
        "fentanyl": False,
        "opiates": False,
    }
    assert (
        selectors.return_to_use_events_since(
            client_ids=[screen.client_id], since=timezone.now() - timedelta(hours=1)
        ).count()
        == 0
    )


def test_mark_expected_refusals_change_nothing(theo: User, make_screen: MakeScreen) -> None:
    screen = make_screen(TODAY, fentanyl="positive", cocaine="negative")
    loaded = selectors.screen_get(actor=theo, public_id=screen.public_id)
    before = _state()
    with pytest.raises(Conflict):
        services.screen_mark_expected(
            actor=theo, screen=loaded, version=7, analytes=["fentanyl"], reason="x"
        )
    for analytes, reason, field in [
        ([], "x", "analytes"),
        (["fentanyl"], " ", "reason"),
        (["cocaine"], "x", "analytes"),  # a negative cannot be expected
        (["thc"], "x", "analytes"),  # not on this screen
    ]:
        with pytest.raises(InvalidInput) as exc:
            services.screen_mark_expected(
                actor=theo, screen=loaded, version=1, analytes=analytes, reason=reason
            )
        assert field in exc.value.field_errors
    assert _state() == before
    assert DrugScreen.objects.get().version == 1


# --- days of use --------------------------------------------------------------------------------


def test_record_days_and_a_calendar_return_to_use(
    theo: User, client_record: Client, episode: Episode, record_days: RecordDays
) -> None:
    outcome = record_days("uaaaaaaau", end_ago=1)
    assert len(outcome.created) == 9 and not outcome.changed
    [event] = outcome.events_created
    assert (event.source, event.date, event.after_abstinent_days) == (
        ReturnSource.CALENDAR,
        days_ago(1),
        7,
    )
    assert event.overdose_risk and event.episode == episode and event.substance == "heroin"
    # The same entries again change nothing and add no event.
    again = record_days("uaaaaaaau", end_ago=1)
    assert len(again.unchanged) == 9 and not again.events_created
    assert ReturnToUseEvent.objects.count() == 1


def test_six_abstinent_days_is_a_return_without_overdose_risk(record_days: RecordDays) -> None:
    [event] = record_days("uaaaaaau").events_created
    assert (event.after_abstinent_days, event.overdose_risk) == (6, False)


def test_alcohol_returns_carry_no_opioid_overdose_risk(record_days: RecordDays) -> None:
    [event] = record_days("aaaaaaaaaau", substance="alcohol").events_created
    assert (event.substance, event.after_abstinent_days, event.overdose_risk) == (
        "alcohol",
        10,
        False,
    )


def test_editing_a_day_keeps_its_history_and_needs_its_version(
    theo: User, client_record: Client, record_days: RecordDays
) -> None:
    record_days("aaaaaaaa")
    day = UseDay.objects.get(date=days_ago(1))
    edit = UseDayInput(day=day.date, substance="heroin", used=True, amount="1 bag")
    kwargs: dict[str, Any] = {
        "actor": theo,
        "client": client_record,
        "start": day.date,
        "end": day.date,
        "source": UseDaySource.CLINICIAN_INTERVIEW,
    }
    before = _state()
    with pytest.raises(Conflict):  # no version: would silently overwrite
        services.use_days_record(days=[edit], **kwargs)
    with pytest.raises(Conflict):  # stale version
        services.use_days_record(days=[replace(edit, version=5)], **kwargs)
    assert _state() == before
    outcome = services.use_days_record(days=[replace(edit, version=1)], **kwargs)
    day.refresh_from_db()
    assert (day.used, day.amount, day.version) == (True, "1 bag", 2)
    [revision] = RecordRevision.objects.filter(resource_id=day.public_id)
    assert revision.snapshot["used"] is False and revision.version == 1
    # The corrected day is a return to use after 7 abstinent days.
    [event] = outcome.events_created
    assert (event.after_abstinent_days, event.overdose_risk) == (7, True)
    # Correcting it back withdraws the event (kept, with the reason).
    undo = replace(edit, used=False, amount="", version=2)
    outcome = services.use_days_record(days=[undo], **kwargs)
    event.refresh_from_db()
    assert event.is_withdrawn and outcome.events_withdrawn == [event]
    assert RecordRevision.objects.filter(resource_id=day.public_id).count() == 2


def test_backfilling_abstinence_recounts_a_calendar_event(record_days: RecordDays) -> None:
    [first] = record_days("aaau").events_created
    assert first.after_abstinent_days == 3
    outcome = record_days("aaaaaaaaa", end_ago=5)  # the days before, all abstinent
    first.refresh_from_db()
    assert first.is_withdrawn
    [recount] = outcome.events_created
    assert (recount.date, recount.after_abstinent_days, recount.overdose_risk) == (
        first.date,
        12,
        True,
    )


@pytest.mark.parametrize(
    ("start_ago", "end_ago", "entries", "source", "field"),
    [
        (3, 5, [], "self_report", "end"),  # end before start
        (1, -1, [], "self_report", "end"),  # the future
        (400, 1, [], "self_report", "end"),  # too long
        (5, 1, [], "telepathy", "source"),
        (5, 1, [(7, "heroin", True, "")], "self_report", "days.0.date"),
        (5, 1, [(2, "kombucha", True, "")], "self_report", "days.0.substance"),
        (5, 1, [(2, "heroin", False, "3 bags")], "self_report", "days.0.amount"),
        (5, 1, [(2, "heroin", True, "x" * 101)], "self_report", "days.0.amount"),
        (
            5,
            1,
            [(2, "heroin", True, ""), (3, "heroin", False, ""), (2, "heroin", False, "")],
            "self_report",
            "days.2.substance",
        ),
    ],
)
def test_use_days_bad_input_changes_nothing(
    theo: User,
    client_record: Client,
    record_days: RecordDays,
    start_ago: int,
    end_ago: int,
    entries: list[tuple[int, str, bool, str]],
    source: str,
    field: str,
) -> None:
    record_days("aaaa")
    before = _state()
    with pytest.raises(InvalidInput) as exc:
        services.use_days_record(
            actor=theo,
            client=client_record,
            start=days_ago(start_ago),
            end=days_ago(end_ago),
            days=[UseDayInput(days_ago(n), s, u, a) for n, s, u, a in entries],
            source=source,
        )
    assert field in exc.value.field_errors
    assert _state() == before


def test_a_version_for_a_day_never_recorded_is_refused(theo: User, client_record: Client) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.use_days_record(
            actor=theo,
            client=client_record,
            start=days_ago(1),
            end=days_ago(1),
            days=[
                UseDayInput(days_ago(1), "alcohol", False),
                UseDayInput(days_ago(1), "heroin", False, version=3),
            ],
            source="self_report",
        )
    assert list(exc.value.field_errors) == ["days.1.version"]
    assert not UseDay.objects.exists()


def test_outsiders_cannot_record_days(tess: User, remy: User, client_record: Client) -> None:
    for actor in (tess, remy):
        with pytest.raises(Forbidden):
            services.use_days_record(
                actor=actor,
                client=client_record,
                start=days_ago(1),
                end=days_ago(1),
                days=[UseDayInput(days_ago(1), "alcohol", True)],
                source="self_report",
            )
    assert not UseDay.objects.exists()


# --- clinician-reported return to use -------------------------------------------------------


def test_clinician_report_counts_abstinence_from_the_calendar(
    theo: User, client_record: Client, record_days: RecordDays
) -> None:
    record_days("uaaaaaaaa", end_ago=2)
    event = services.return_to_use_report(
        actor=theo, client=client_record, day=days_ago(1), substance="heroin", note=" told me "
    )
    assert (event.source, event.after_abstinent_days, event.overdose_risk, event.note) == (
        ReturnSource.CLINICIAN,
        8,
        True,
        "told me",
    )


def test_clinician_report_with_unknown_or_given_abstinence(
    theo: User, client_record: Client
) -> None:
    unknown = services.return_to_use_report(
        actor=theo, client=client_record, day=days_ago(1), substance="other_opiates"
    )
    assert (unknown.after_abstinent_days, unknown.overdose_risk) == (None, False)
    given = services.return_to_use_report(
        actor=theo,
        client=client_record,
        day=days_ago(1),
        substance="other_opiates",
        after_abstinent_days=14,
    )
    assert (given.after_abstinent_days, given.overdose_risk) == (14, True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"substance": "glue"}, "substance"),
        ({"day": TODAY + timedelta(days=1)}, "date"),
        ({"after_abstinent_days": -1}, "after_abstinent_days"),
        ({"note": "x" * 2001}, "note"),
    ],
)
def test_clinician_report_bad_input_changes_nothing(
    theo: User, client_record: Client, change: dict[str, Any], field: str
) -> None:
    kwargs: dict[str, Any] = {
        "actor": theo,
        "client": client_record,
        "day": days_ago(1),
        "substance": "heroin",
    }
    with pytest.raises(InvalidInput) as exc:
        services.return_to_use_report(**{**kwargs, **change})
    assert field in exc.value.field_errors
    assert not ReturnToUseEvent.objects.exists()


def test_events_since_for_the_alerts(
    theo: User, client_record: Client, record_days: RecordDays
) -> None:
    since = timezone.now() - timedelta(seconds=1)
    record_days("aaaaaaau")
    services.return_to_use_report(
        actor=theo, client=client_record, day=days_ago(1), substance="alcohol"
    )
    events = list(selectors.return_to_use_events_since(client_ids=[client_record.pk], since=since))
    assert [(e.source, e.overdose_risk) for e in events] == [
        (ReturnSource.CALENDAR, True),
        (ReturnSource.CLINICIAN, False),
    ]
    assert not selectors.return_to_use_events_since(
        client_ids=[client_record.pk], since=timezone.now() + timedelta(seconds=5)
    ).exists()
