"""Drug screens, days of use (Timeline Followback), abstinence and return to use over the API."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router
from ninja.responses import Status

from iptcare.accounts.models import User
from iptcare.clients.selectors import client_get
from iptcare.core.errors import InvalidInput
from iptcare.recovery import selectors, services
from iptcare.recovery.schemas import (
    AbstinenceSummaryOut,
    DrugScreenIn,
    DrugScreenOut,
    MarkExpectedIn,
    ReturnToUseIn,
    ReturnToUseOut,
    UseDayOut,
    UseDaysIn,
    UseDaysRecordedOut,
)

router = Router(tags=["recovery"])


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _collector(actor: User, public_id: UUID | None) -> User | None:
    if public_id is None:
        return None
    user = (
        User.objects.staff()
        .filter(public_id=public_id, organisation_id=actor.organisation_id or 0)
        .first()
    )
    if user is None:
        raise InvalidInput(
            "Unknown member of staff.", field_errors={"collected_by": ["No such member of staff."]}
        )
    return user


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or timezone.localdate()
    start = start or end.replace(day=1)
    errors: dict[str, list[str]] = {}
    if end < start:
        errors["end"] = ["The end of the range is before its start."]
    elif (end - start).days + 1 > services.MAX_RANGE_DAYS:
        errors["end"] = [f"Ask for at most {services.MAX_RANGE_DAYS} days at a time."]
    if errors:
        raise InvalidInput("Some fields are invalid.", field_errors=errors)
    return start, end


@router.get(
    "/clients/{client_id}/drug-screens",
    response=list[DrugScreenOut],
    summary="A client's latest drug screens with their results, newest first",
)
def screens_list(request: HttpRequest, client_id: UUID, limit: int = 20) -> list[DrugScreenOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    screens = selectors.screens_recent(actor=actor, client=client, limit=max(1, min(limit, 200)))
    return [DrugScreenOut.of(s, list(s.results.all())) for s in screens]


@router.post(
    "/clients/{client_id}/drug-screens",
    response={201: DrugScreenOut},
    summary="Record a drug screen (an unexpected positive after abstinence is a return to use)",
)
def screen_create(
    request: HttpRequest, client_id: UUID, payload: DrugScreenIn
) -> Status[DrugScreenOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    screen = services.screen_record(
        actor=actor,
        client=client,
        collected_at=payload.collected_at,
        specimen=payload.specimen,
        results=[
            services.ResultInput(
                analyte=r.analyte,
                result=r.result,
                expected=r.expected,
                expected_reason=r.expected_reason,
            )
            for r in payload.results
        ],
        collected_by=_collector(actor, payload.collected_by),
        notes=payload.notes,
    )
    return Status(201, DrugScreenOut.of(screen, list(screen.results.order_by("id"))))


@router.get("/drug-screens/{screen_id}", response=DrugScreenOut, summary="One drug screen")
def screen_detail(request: HttpRequest, screen_id: UUID) -> DrugScreenOut:
    screen = selectors.screen_get(actor=_actor(request), public_id=screen_id)
    return DrugScreenOut.of(screen, list(screen.results.all()))


@router.post(
    "/drug-screens/{screen_id}/expected",
    response=DrugScreenOut,
    summary="Mark positive results expected (409 on a stale version)",
)
def screen_mark_expected(
    request: HttpRequest, screen_id: UUID, payload: MarkExpectedIn
) -> DrugScreenOut:
    actor = _actor(request)
    screen = selectors.screen_get(actor=actor, public_id=screen_id)
    updated = services.screen_mark_expected(
        actor=actor,
        screen=screen,
        version=payload.version,
        analytes=[str(a) for a in payload.analytes],
        reason=payload.reason,
    )
    updated.collected_by, updated.episode = screen.collected_by, screen.episode
    return DrugScreenOut.of(updated, list(updated.results.order_by("id")))


@router.get(
    "/clients/{client_id}/use-days",
    response=list[UseDayOut],
    summary="Recorded days of use between start and end (default: this month)",
)
def use_days_list(
    request: HttpRequest,
    client_id: UUID,
    start: date | None = Query(None),  # noqa: B008
    end: date | None = Query(None),  # noqa: B008
) -> list[UseDayOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    start, end = _range(start, end)
    rows = selectors.use_days_between(actor=actor, client=client, start=start, end=end)
    return [UseDayOut.of(d) for d in rows]


@router.put(
    "/clients/{client_id}/use-days",
    response=UseDaysRecordedOut,
    summary="Record or correct days of use in a date range (all or nothing; 409 if stale)",
)
def use_days_put(request: HttpRequest, client_id: UUID, payload: UseDaysIn) -> UseDaysRecordedOut:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    outcome = services.use_days_record(
        actor=actor,
        client=client,
        start=payload.start,
        end=payload.end,
        source=payload.source,
        days=[
            services.UseDayInput(
                day=d.date, substance=d.substance, used=d.used, amount=d.amount, version=d.version
            )
            for d in payload.days
        ],
    )
    for event in outcome.events_created:
        event.client = client
    return UseDaysRecordedOut(
        created=len(outcome.created),
        changed=len(outcome.changed),
        unchanged=len(outcome.unchanged),
        days=[
            UseDayOut.of(d)
            for d in sorted(
                outcome.created + outcome.changed + outcome.unchanged,
                key=lambda d: (d.date, d.substance),
            )
        ],
        return_to_use_events=[ReturnToUseOut.of(e) for e in outcome.events_created],
        withdrawn_events=[e.public_id for e in outcome.events_withdrawn],
    )


@router.get(
    "/clients/{client_id}/abstinence",
    response=AbstinenceSummaryOut,
    summary="Percent days abstinent (over days with data) and abstinence streaks",
)
def abstinence_summary(
    request: HttpRequest,
    client_id: UUID,
    start: date | None = Query(None),  # noqa: B008
    end: date | None = Query(None),  # noqa: B008
) -> AbstinenceSummaryOut:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    if start is not None and end is not None:
        start, end = _range(start, end)  # otherwise the last 90 days (to ``end`` if given)
    summary = selectors.abstinence_summary(actor=actor, client=client, start=start, end=end)
    return AbstinenceSummaryOut.of(summary)


@router.get(
    "/clients/{client_id}/return-to-use",
    response=list[ReturnToUseOut],
    summary="A client's return-to-use events, newest first (withdrawn ones marked)",
)
def return_to_use_list(
    request: HttpRequest, client_id: UUID, limit: int = 50
) -> list[ReturnToUseOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    events = selectors.return_to_use_events(
        actor=actor, client=client, limit=max(1, min(limit, 500))
    )
    return [ReturnToUseOut.of(e) for e in events]


@router.post(
    "/clients/{client_id}/return-to-use",
    response={201: ReturnToUseOut},
    summary="Record a clinician-reported return to use",
)
def return_to_use_report(
    request: HttpRequest, client_id: UUID, payload: ReturnToUseIn
) -> Status[ReturnToUseOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    event = services.return_to_use_report(
        actor=actor,
        client=client,
        day=payload.date,
        substance=payload.substance,
        note=payload.note,
        after_abstinent_days=payload.after_abstinent_days,
    )
    return Status(201, ReturnToUseOut.of(event))
