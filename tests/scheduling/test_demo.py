"""The demo hook: realistic, bulk-written, silent (no audit events), and fast."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.core.models import Organisation, Program
from iptcare.scheduling import demo, selectors
from iptcare.scheduling.models import Appointment, AppointmentKind, AppointmentStatus, GroupSession

TODAY = date(2026, 6, 1)


def _enrolments(
    n: int, make_client: Callable[..., Client], program: Program, clinician: User
) -> list[demo.DemoEnrolment]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        admitted = TODAY - timedelta(days=rng.randrange(20, 300))
        discharged = admitted + timedelta(days=rng.randrange(60, 200)) if i % 3 == 0 else None
        if discharged is not None and discharged > TODAY:
            discharged = None
        out.append(demo.DemoEnrolment(make_client(), program, clinician, admitted, discharged))
    return out


def test_demo_generates_weekly_appointments_and_groups_in_bulk(
    org: Organisation,
    northside: Program,
    theo: User,
    make_client: Callable[..., Client],
) -> None:
    enrolments = _enrolments(60, make_client, northside, theo)
    audit_before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        summary = demo.generate(
            organisation=org,
            episodes_or_clients=enrolments,
            clinicians_by_program={northside.pk: [theo]},
            rng=random.Random(2026),
            today=TODAY,
        )
    # Bulk inserts (SQLite caps a statement at 999 parameters), never a save per row.
    assert len(ctx.captured_queries) < summary["appointments"] / 20
    assert AuditEvent.objects.count() == audit_before
    assert summary["appointments"] == Appointment.objects.count()
    assert summary["group_sessions"] == GroupSession.objects.count() > 0
    past = Appointment.objects.filter(starts_at__date__lt=TODAY)
    attended = past.filter(status__in=[AppointmentStatus.ATTENDED, AppointmentStatus.LATE]).count()
    assert 0.6 < attended / past.count() < 0.85
    assert past.filter(status=AppointmentStatus.SCHEDULED).count() == 0
    assert Appointment.objects.filter(
        starts_at__date__gte=TODAY, status=AppointmentStatus.SCHEDULED
    ).exists()
    assert not Appointment.objects.filter(
        starts_at__date__gt=TODAY + timedelta(weeks=demo.FUTURE_WEEKS)
    ).exists()
    # Weekly individual sessions from admission to discharge.
    for e in enrolments[:10]:
        rows = Appointment.objects.filter(client=e.client).exclude(kind=AppointmentKind.GROUP)
        first = rows.order_by("starts_at").first()
        assert first is not None and first.kind == AppointmentKind.INTAKE
        assert first.starts_at.date() == e.admitted_on
        if e.discharged_on is not None:
            assert all(r.starts_at.date() <= e.discharged_on for r in rows)
    runs = selectors.no_show_runs(client_ids=summary["dropout_client_ids"])
    # The run that ended in dropout (earlier unexcused no-shows may lengthen it).
    assert runs and all(run >= 2 for run in runs.values())
    assert summary["no_show_runs"] >= len(summary["dropout_client_ids"])
    # Every row satisfies the model's rules (check constraints already held at insert).
    sample = Appointment.objects.order_by("?")[:30]
    for row in sample:
        row.full_clean()


def test_demo_is_deterministic_for_a_seed(
    org: Organisation, northside: Program, theo: User, make_client: Callable[..., Client]
) -> None:
    enrolments = _enrolments(5, make_client, northside, theo)
    args = {
        "organisation": org,
        "episodes_or_clients": enrolments,
        "clinicians_by_program": {northside.pk: [theo]},
        "today": TODAY,
    }
    first = demo.generate(rng=random.Random(1), **args)  # type: ignore[arg-type]
    ids = set(Appointment.objects.values_list("public_id", flat=True))
    Appointment.objects.all().delete()
    GroupSession.objects.all().delete()
    second = demo.generate(rng=random.Random(1), **args)  # type: ignore[arg-type]
    assert first == second
    assert set(Appointment.objects.values_list("public_id", flat=True)) == ids
