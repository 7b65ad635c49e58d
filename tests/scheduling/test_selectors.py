"""Scheduling selectors: what the week, the timeline and the caseload helpers return, who may ask,
and that their query counts do not grow with the data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.core.errors import Forbidden
from iptcare.core.models import Program
from iptcare.scheduling import selectors
from iptcare.scheduling.models import AppointmentStatus as S
from tests.helpers import last_audit_id
from tests.scheduling.conftest import MakeAppointment

MONDAY = date(2026, 3, 2)


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def test_week_start_is_monday() -> None:
    assert selectors.week_start_of(date(2026, 3, 5)) == MONDAY
    assert selectors.week_start_of(MONDAY) == MONDAY


def test_week_holds_the_clinicians_seven_days_day_by_day(
    theo: User,
    nina: User,
    client_record: Client,
    make_client: Callable[..., Client],
    make_appointment: MakeAppointment,
) -> None:
    other = make_client(family="Otherly")
    monday = make_appointment(client_record, _at(MONDAY, 9))
    sunday = make_appointment(other, _at(MONDAY + timedelta(days=6), 23))
    wednesday = make_appointment(other, _at(MONDAY + timedelta(days=2), 14))
    make_appointment(client_record, _at(MONDAY - timedelta(days=1), 12))  # week before
    make_appointment(client_record, _at(MONDAY + timedelta(days=7), 0))  # week after
    make_appointment(client_record, _at(MONDAY, 11), clinician=nina)  # someone else's
    before = last_audit_id()
    week = selectors.therapist_week(actor=theo, clinician=theo, week_start=MONDAY)
    assert [d.day for d in week.days] == [MONDAY + timedelta(days=i) for i in range(7)]
    assert week.days[0].appointments == [monday]
    assert week.days[2].appointments == [wednesday]
    assert week.days[6].appointments == [sunday]
    assert week.appointment_count == 3
    assert week.days[2].appointments[0].client.display_name == "Client2 Otherly"
    events = list(AuditEvent.objects.filter(id__gt=before))
    assert [(e.action, e.data_category, e.outcome, e.resource_type) for e in events] == [
        ("list", "clinical_record", "success", "program")
    ]
    assert (week.previous_start, week.next_start) == (
        MONDAY - timedelta(days=7),
        MONDAY + timedelta(days=7),
    )


def test_a_colleague_sees_the_clinicians_week_in_a_shared_program(
    theo: User, nina: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    make_appointment(client_record, _at(MONDAY, 9))
    assert (
        selectors.therapist_week(actor=nina, clinician=theo, week_start=MONDAY).appointment_count
        == 1
    )


def test_week_leaves_out_clients_of_programs_the_actor_may_not_see(
    theo: User,
    tess: User,
    riverside: Program,
    client_record: Client,
    make_client: Callable[..., Client],
    make_appointment: MakeAppointment,
) -> None:
    # theo also works in Riverside; tess (Riverside only) sees only his Riverside clients.
    theo.programs.add(riverside)
    theo.forget_cached_privileges()
    river_client = make_client(program=riverside)
    make_appointment(client_record, _at(MONDAY, 9))
    river = make_appointment(river_client, _at(MONDAY, 10))
    week = selectors.therapist_week(actor=tess, clinician=theo, week_start=MONDAY)
    assert week.days[0].appointments == [river]
    assert week.programs == [riverside]


@pytest.mark.parametrize("persona", ["tess", "remy"])
def test_outsiders_may_not_open_the_week(
    request: pytest.FixtureRequest,
    theo: User,
    client_record: Client,
    make_appointment: MakeAppointment,
    persona: str,
) -> None:
    make_appointment(client_record, _at(MONDAY, 9))
    with pytest.raises(Forbidden):
        selectors.therapist_week(
            actor=request.getfixturevalue(persona), clinician=theo, week_start=MONDAY
        )
    assert AuditEvent.objects.order_by("-id").first().outcome == "denied"  # type: ignore[union-attr]


def test_timeline_is_newest_first_and_limited(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    now = timezone.now()
    made = [make_appointment(client_record, now + timedelta(days=d)) for d in (-30, 5, -2, -10)]
    timeline = selectors.client_timeline_appointments(actor=theo, client=client_record)
    assert [a.starts_at for a in timeline] == sorted((a.starts_at for a in made), reverse=True)
    limited = selectors.client_timeline_appointments(actor=theo, client=client_record, limit=2)
    assert [a.pk for a in limited] == [a.pk for a in timeline[:2]]


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_get_no_timeline(
    request: pytest.FixtureRequest, client_record: Client, persona: str
) -> None:
    from iptcare.core.errors import NotFound

    with pytest.raises((Forbidden, NotFound)):
        selectors.client_timeline_appointments(
            actor=request.getfixturevalue(persona), client=client_record
        )


def test_next_appointment_and_last_seen(
    client_record: Client, make_client: Callable[..., Client], make_appointment: MakeAppointment
) -> None:
    now = timezone.now()
    b, nobody = make_client(), make_client()
    make_appointment(client_record, now - timedelta(days=14), status=S.ATTENDED)
    last = make_appointment(client_record, now - timedelta(days=7), status=S.LATE)
    make_appointment(client_record, now - timedelta(days=3), status=S.NO_SHOW)
    make_appointment(client_record, now + timedelta(days=2), status=S.CANCELLED_CLIENT)
    nxt = make_appointment(client_record, now + timedelta(days=4))
    make_appointment(client_record, now + timedelta(days=11))
    make_appointment(b, now - timedelta(days=1))  # past but not recorded: neither next nor seen
    with CaptureQueriesContext(connection) as ctx:
        result = selectors.next_appointment_and_last_seen(
            client_ids=[client_record.pk, b.pk, nobody.pk], now=now
        )
    assert len(ctx.captured_queries) == 1
    assert result == {
        client_record.pk: (nxt.starts_at, last.starts_at),
        b.pk: (None, None),
        nobody.pk: (None, None),
    }


def test_no_show_runs(
    client_record: Client, make_client: Callable[..., Client], make_appointment: MakeAppointment
) -> None:
    now = timezone.now()
    b, c, d = make_client(), make_client(), make_client()
    # client_record: attended, then no-show, cancelled (ignored), no-show, no-show → run of 3.
    for days, status in [
        (40, S.NO_SHOW),
        (35, S.ATTENDED),
        (28, S.NO_SHOW),
        (21, S.CANCELLED_CLIENT),
        (14, S.NO_SHOW),
        (7, S.NO_SHOW),
    ]:
        make_appointment(client_record, now - timedelta(days=days), status=status)
    make_appointment(client_record, now + timedelta(days=1))  # future: ignored
    # b: the run was broken by a late arrival → 0.
    make_appointment(b, now - timedelta(days=9), status=S.NO_SHOW)
    make_appointment(b, now - timedelta(days=2), status=S.LATE)
    # c: never attended, two no-shows → 2.
    make_appointment(c, now - timedelta(days=9), status=S.NO_SHOW)
    make_appointment(c, now - timedelta(days=2), status=S.NO_SHOW)
    with CaptureQueriesContext(connection) as ctx:
        runs = selectors.no_show_runs(client_ids=[client_record.pk, b.pk, c.pk, d.pk])
    assert len(ctx.captured_queries) == 1
    assert runs == {client_record.pk: 3, b.pk: 0, c.pk: 2, d.pk: 0}


# --- query-count guards: N appointments, then 3N: the same number of queries ----------------


def _history(
    clients: list[Client], make_appointment: MakeAppointment, n: int, start: datetime
) -> None:
    statuses = [S.ATTENDED, S.NO_SHOW, S.LATE, S.CANCELLED_PROGRAM, S.SCHEDULED]
    for i in range(n):
        make_appointment(
            clients[i % len(clients)],
            start + timedelta(hours=i),
            status=statuses[i % len(statuses)],
        )


def _count(fn: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.parametrize("which", ["week", "timeline", "next_last", "no_show_runs"])
def test_query_counts_do_not_grow_with_history(
    theo: User,
    client_record: Client,
    make_client: Callable[..., Client],
    make_appointment: MakeAppointment,
    which: str,
) -> None:
    clients = [client_record, make_client(), make_client()]
    ids = [c.pk for c in clients]
    start = _at(MONDAY, 0)

    def run() -> object:
        fresh = User.objects.get(pk=theo.pk)  # no cached privileges: the worst case each time
        if which == "week":
            return selectors.therapist_week(actor=fresh, clinician=fresh, week_start=MONDAY)
        if which == "timeline":
            return selectors.client_timeline_appointments(actor=fresh, client=client_record)
        if which == "next_last":
            return selectors.next_appointment_and_last_seen(client_ids=ids, now=start)
        return selectors.no_show_runs(client_ids=ids)

    n = 12
    _history(clients, make_appointment, n, start)
    small = _count(run)
    _history(clients, make_appointment, 2 * n, start + timedelta(hours=n))
    large = _count(run)
    assert small == large
