"""Prepared querysets (iptcare.core.db.prepared): compiled once, then re-run with new values —
and always the rows the ordinary ORM query returns."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Count, F, QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.sessions import SessionStore
from iptcare.clients.models import Client
from iptcare.core.db import prepared as prepared_module
from iptcare.core.db.prepared import ListOf, prepared
from iptcare.core.models import Organisation, Program
from iptcare.scheduling.models import Appointment


def _clients(org: Organisation, program: Program, n: int) -> list[Client]:
    return [
        Client.objects.create(
            organisation=org,
            program=program,
            record_number=f"P-{i:04d}",
            legal_given_name=f"Given{i}",
            legal_family_name=f"Fictional{i}",
            date_of_birth=date(1980 + i, 1 + i, 1 + i),
        )
        for i in range(n)
    ]


def _by_key(
    org: Organisation, program: Program
) -> tuple[list[Client], Callable[..., QuerySet[Client]]]:
    clients = _clients(org, program, 4)

    def build(public_id: uuid.UUID) -> QuerySet[Client]:
        return (
            Client.objects.select_related("organisation", "program")
            .annotate(org_name=F("organisation__name"), episodes_n=Count("episodes"))
            .filter(public_id=public_id)
        )

    return clients, build


def test_rows_are_the_orm_rows_for_every_key(org: Organisation, northside: Program) -> None:
    clients, build = _by_key(org, northside)
    query = prepared(build, public_id=uuid.UUID)
    for c in [*clients, clients[0]]:
        (got,) = query.all(public_id=c.public_id)
        (want,) = list(build(c.public_id))
        assert got.pk == want.pk == c.pk
        assert got.record_number == c.record_number
        # select_related and annotations are filled exactly as the ORM fills them.
        assert got.program.name == northside.name and got.organisation.pk == org.pk
        assert (got.org_name, got.episodes_n) == (want.org_name, want.episodes_n)  # type: ignore[attr-defined]
    assert query.all(public_id=uuid.uuid4()) == []
    assert query.first(public_id=uuid.uuid4()) is None


def test_compiled_once_then_one_statement_per_run(
    org: Organisation, northside: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared_module, "VERIFY", False)  # as in production
    clients, build = _by_key(org, northside)
    calls: list[uuid.UUID] = []

    def counting(public_id: uuid.UUID) -> QuerySet[Client]:
        calls.append(public_id)
        return build(public_id)

    query = prepared(counting, public_id=uuid.UUID)
    query.first(public_id=clients[0].public_id)
    built = len(calls)
    assert built == 2  # two samples to find the slots; never the real value
    assert clients[0].public_id not in calls
    for c in clients:
        with CaptureQueriesContext(connection) as q:
            assert query.first(public_id=c.public_id).pk == c.pk  # type: ignore[union-attr]
        assert len(q.captured_queries) == 1
    assert len(calls) == built


def test_row_converters_are_worked_out_once_per_connection(
    org: Organisation, northside: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows still come back converted (dates, UUIDs, annotations), as the ORM converts them,
    while Django's ``get_converters`` runs once for the compiled query on this connection."""
    monkeypatch.setattr(prepared_module, "VERIFY", False)  # as in production
    clients, build = _by_key(org, northside)
    query = prepared(build, public_id=uuid.UUID)
    from django.db.models.sql.compiler import SQLCompiler

    worked_out: list[int] = []
    original = SQLCompiler.get_converters

    def counting(self: SQLCompiler, expressions: Any) -> Any:
        worked_out.append(len(expressions))
        return original(self, expressions)

    monkeypatch.setattr(SQLCompiler, "get_converters", counting)
    for c in [*clients, *clients]:
        (got,) = query.all(public_id=c.public_id)
        (want,) = list(build(c.public_id))
        assert isinstance(got.public_id, uuid.UUID) and got.public_id == c.public_id
        assert got.date_of_birth == want.date_of_birth and isinstance(got.date_of_birth, date)
        assert got.created_at == want.created_at and got.created_at.tzinfo is not None
        assert got.episodes_n == want.episodes_n  # type: ignore[attr-defined]
    prepared_runs = len(worked_out) - len(clients) * 2  # the ORM's own runs above work it out
    assert prepared_runs == 1


def test_each_parameter_type_reaches_its_own_slots(org: Organisation, northside: Program) -> None:
    clients = _clients(org, northside, 5)

    def build(
        number: str, born_after: date, created_before: datetime, pk_above: int
    ) -> QuerySet[Any]:
        return (
            Client.objects.filter(
                record_number__gte=number,
                date_of_birth__gt=born_after,
                created_at__lt=created_before,
                pk__gt=pk_above,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    query = prepared(build, number=str, born_after=date, created_before=datetime, pk_above=int)
    future = timezone.now() + timedelta(days=1)
    cases = [
        ("P-0000", date(1900, 1, 1), future, 0),
        ("P-0002", date(1900, 1, 1), future, 0),
        ("P-0000", clients[2].date_of_birth, future, 0),
        ("P-0000", date(1900, 1, 1), datetime(2000, 1, 1, tzinfo=UTC), 0),
        ("P-0000", date(1900, 1, 1), future, clients[3].pk),
    ]
    results = []
    for number, born_after, created_before, pk_above in cases:
        want = list(build(number, born_after, created_before, pk_above))
        got = query.all(
            number=number, born_after=born_after, created_before=created_before, pk_above=pk_above
        )
        assert got == want
        results.append(tuple(got))
    assert len(set(results)) == len(cases)  # every parameter changed the answer


def _values_by_key(
    org: Organisation, program: Program
) -> tuple[list[Client], Callable[..., QuerySet[Client, tuple[Any, ...]]]]:
    clients = _clients(org, program, 3)

    def build(public_id: uuid.UUID) -> QuerySet[Client, tuple[Any, ...]]:
        return (
            Client.objects.annotate(episodes_n=Count("episodes"), org_name=F("organisation__name"))
            .filter(public_id=public_id)
            .values_list(
                "id", "public_id", "date_of_birth", "created_at", "program__public_id",
                "program__name", "episodes_n", "org_name",
            )[:1]
        )  # fmt: skip

    return clients, build


def test_row_is_the_orm_values_list_row(
    org: Organisation, northside: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``row``: the columns in the order the values_list names them (related columns and
    annotations included), converted as the ORM converts them (UUIDs, dates, aware datetimes:
    on SQLite all of them arrive as text), in one statement; None when nothing matches."""
    monkeypatch.setattr(prepared_module, "VERIFY", False)  # as in production
    clients, build = _values_by_key(org, northside)
    query = prepared(build, public_id=uuid.UUID)
    for c in [*clients, clients[0]]:
        (want,) = list(build(c.public_id))
        with CaptureQueriesContext(connection) as ran:
            got = query.row(public_id=c.public_id)
        assert got == want and len(ran) == 1
        assert got is not None
        assert isinstance(got[1], uuid.UUID) and got[1] == c.public_id
        assert isinstance(got[2], date) and got[2] == c.date_of_birth
        assert isinstance(got[3], datetime) and got[3].tzinfo is not None
        assert got[4] == northside.public_id and got[5] == northside.name
        assert got[6:] == (0, org.name)
    assert query.row(public_id=uuid.uuid4()) is None


def test_row_refuses_what_is_not_a_plain_values_list(org: Organisation, northside: Program) -> None:
    _clients(org, northside, 1)
    models = prepared(lambda pk: Client.objects.filter(pk=pk)[:1], pk=int)
    with pytest.raises(ImproperlyConfigured, match="values_list"):
        models.row(pk=1)
    flat = prepared(lambda pk: Client.objects.filter(pk=pk).values_list("id", flat=True), pk=int)
    with pytest.raises(ImproperlyConfigured, match="values_list"):
        flat.row(pk=1)
    dicts = prepared(lambda pk: Client.objects.filter(pk=pk).values("id"), pk=int)
    with pytest.raises(ImproperlyConfigured, match="values_list"):
        dicts.row(pk=1)
    listed = prepared(
        lambda pks: Client.objects.filter(pk__in=pks).values_list("id"), pks=ListOf(int)
    )
    with pytest.raises(TypeError, match="list parameters"):
        listed.row(pks=[1])
    ok = prepared(lambda pk: Client.objects.filter(pk=pk).values_list("id"), pk=int)
    with pytest.raises(TypeError, match="expected parameters"):
        ok.row(id=1)


def test_the_suite_checks_every_row_against_the_orm_sql(
    client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``row`` is cross-checked against the ORM's SQL in the suite, as ``all`` is."""
    assert prepared_module.VERIFY  # tests/conftest.py
    query = prepared(
        lambda numbers: Client.objects.filter(record_number__in=numbers.split(",")).values_list(
            "id"
        ),
        numbers=str,
    )
    assert query.row(numbers="T-0001") == (client_record.pk,)
    with pytest.raises(AssertionError, match="differs from the ORM"):
        query.row(numbers="T-0001,T-0002")


def test_a_list_parameter_is_compiled_per_length_and_matches_the_orm(
    org: Organisation, northside: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = _clients(org, northside, 6)
    pks = [c.pk for c in clients]

    def build(ids: list[int | None], number: str) -> QuerySet[Any]:
        return (
            Client.objects.filter(pk__in=ids, record_number__gte=number)
            .order_by("-pk")
            .values_list("pk", flat=True)
        )

    query = prepared(build, ids=ListOf(int), number=str)
    cases: list[tuple[list[int | None], str]] = [
        ([pks[0]], "P-0000"),
        ([pks[0], pks[3]], "P-0000"),
        ([pks[3], pks[0]], "P-0001"),  # same length, other values: the same compiled form
        ([pks[1], pks[1], None, pks[2]], "P-0000"),  # duplicates and None dropped, as Django does
        ([*pks], "P-0004"),
        ([-5, -6, -7], "P-0000"),
    ]
    for ids, number in cases:
        assert query.all(ids=ids, number=number) == list(build(ids, number))
    assert query.all(ids=[pks[1], pks[1], None, pks[2]], number="P-0000") == [pks[2], pks[1]]
    with CaptureQueriesContext(connection) as q:
        assert query.all(ids=[], number="P-0000") == []
    assert q.captured_queries == []
    # Lengths 1, 2, 3 and 6: one compiled form each, whatever the values.
    assert len(query._cache) == 4
    monkeypatch.setattr(prepared_module, "MAX_SHAPES", 4)
    query.all(ids=pks[:5], number="P-0000")
    assert len(query._cache) == 1  # a fifth length starts the cache again


def test_a_date_lookup_follows_the_current_time_zone(
    org: Organisation, northside: Program, theo: Any
) -> None:
    (client,) = _clients(org, northside, 1)
    # 23:30 UTC on 1 March is already 2 March in Auckland and still 1 March in New York.
    at = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    Appointment.objects.create(
        organisation=org,
        program=northside,
        client=client,
        clinician=theo,
        kind="individual",
        modality="ipt",
        starts_at=at,
        duration_minutes=50,
    )
    query = prepared(
        lambda day, client_id: Appointment.objects.filter(
            client_id=client_id, starts_at__date=day
        ).values_list("starts_at", flat=True),
        day=date,
        client_id=int,
    )
    with timezone.override("Pacific/Auckland"):
        assert query.all(day=date(2026, 3, 2), client_id=client.pk) == [at]
        assert query.all(day=date(2026, 3, 1), client_id=client.pk) == []
    with timezone.override("America/New_York"):
        assert query.all(day=date(2026, 3, 1), client_id=client.pk) == [at]
        assert query.all(day=date(2026, 3, 2), client_id=client.pk) == []


def test_queries_that_cannot_be_prepared_are_refused_at_their_first_run(
    client_record: Client,
) -> None:
    # An optional filter: the SQL depends on the value, so no single SQL text serves every value.
    shape = prepared(
        lambda since: (
            Client.objects.filter(created_at__gte=since)
            if since.year > 1901
            else Client.objects.all()
        ),
        since=datetime,
    )
    with pytest.raises(ImproperlyConfigured, match="shape"):
        shape.all(since=timezone.now())
    limit = prepared(lambda n: Client.objects.order_by("pk")[:n], n=int)
    with pytest.raises(ImproperlyConfigured, match="cannot be built from sample values"):
        limit.all(n=3)
    computed = prepared(
        lambda born: Client.objects.filter(date_of_birth__gt=born - timedelta(days=1)), born=date
    )
    with pytest.raises(ImproperlyConfigured, match="computed from 'born'"):
        computed.all(born=date(1990, 1, 1))
    unused = prepared(lambda pk, other: Client.objects.filter(pk=pk), pk=int, other=int)
    with pytest.raises(ImproperlyConfigured, match="never reach"):
        unused.all(pk=1, other=2)
    with pytest.raises(ImproperlyConfigured, match="bool"):
        prepared(lambda flag: Client.objects.all(), flag=bool)
    ok = prepared(lambda pk: Client.objects.filter(pk=pk), pk=int)
    with pytest.raises(TypeError, match="expected parameters"):
        ok.all(id=client_record.pk)


def test_the_suite_checks_every_run_against_the_orm(
    client_record: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the build transforms in a way the samples cannot reveal (here: split) passes
    preparation, and the suite's cross-check catches it on the first run that differs."""
    assert prepared_module.VERIFY  # tests/conftest.py
    query = prepared(
        lambda numbers: Client.objects.filter(record_number__in=numbers.split(",")), numbers=str
    )
    assert [c.pk for c in query.all(numbers="T-0001")] == [client_record.pk]
    with pytest.raises(AssertionError, match="differs from the ORM"):
        query.all(numbers="T-0001,T-0002")
    monkeypatch.setattr(prepared_module, "VERIFY", False)
    assert query.all(numbers="T-0001,T-0002") == []  # what production would have run


def test_session_engine_reads_live_sessions_and_not_expired_ones(db: None) -> None:
    store = SessionStore()
    store["marker"] = "kept"
    store.create()
    key = store.session_key
    assert SessionStore(session_key=key).load() == {"marker": "kept"}
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(session_key=key)
    assert expired.load() == {}
    assert expired.session_key is None
