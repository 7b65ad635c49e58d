"""Writes compiled before the transaction (iptcare.core.db.writes.PreparedInsert) and prepared
UPDATEs (iptcare.core.db.prepared.prepared_update): the same statements the ORM calls they
replace would send, the same rows, and the same refusals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, Value
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.db import prepared as prepared_module
from iptcare.core.db import writes
from iptcare.core.db.prepared import ListOf, prepared_update
from iptcare.core.db.writes import PreparedInsert
from iptcare.core.models import Organisation
from iptcare.measures.models import Administration, Alert, AlertKind, AlertStatus, MeasureLink

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _administration(client: Client, total: float | None = 7.0) -> Administration:
    return Administration(
        organisation_id=client.organisation_id,
        program_id=client.program_id,
        client=client,
        instrument="phq-9",
        instrument_version="test",
        mode="in_session",
        completed_at=NOW,
        answers={"1": "2", "9": "0"},
        item_scores={"1": 2, "9": 0},
        total=total,
        band="mild",
        band_label="Mild",
        flags=[{"code": "x", "severity": "info"}],
        complete=True,
        questionnaire_response={"resourceType": "QuestionnaireResponse", "status": "completed"},
        observations=[{"resourceType": "Observation"}],
    )


def _columns(obj: Model) -> dict[str, Any]:
    """Every stored column of a row, read back from the database."""
    fresh = type(obj)._default_manager.get(pk=obj.pk)
    return {
        f.attname: getattr(fresh, f.attname)
        for f in type(obj)._meta.concrete_fields
        if f.attname not in ("id", "public_id", "created_at", "updated_at")
    }


class _Sent:
    """The statements sent to the database, as the driver receives them (SQL with its
    placeholders, and how many parameters)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, int]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements.append((sql, len(params or ())))
        return execute(sql, params, many, context)


@contextmanager
def _sent() -> Iterator[list[tuple[str, int]]]:
    sent = _Sent()
    with connection.execute_wrapper(sent):
        yield sent.statements


def test_insert_stores_the_row_save_stores_with_the_same_statement(client_record: Client) -> None:
    by_orm, prepared = _administration(client_record), _administration(client_record)
    with _sent() as orm_sql:
        by_orm.save(force_insert=True)
    insert = PreparedInsert([prepared])
    assert prepared.pk is None and Administration.objects.count() == 1  # compiled, not run
    with _sent() as prepared_sql:
        insert.execute()
    assert isinstance(prepared.pk, int) and prepared.pk != by_orm.pk
    assert not prepared._state.adding and prepared._state.db == "default"
    assert _columns(prepared) == _columns(by_orm)
    # The same SQL text; only the values differ (another key, time and public id).
    assert prepared_sql == orm_sql and len(orm_sql) == 1
    stored = Administration.objects.get(pk=prepared.pk)
    assert stored.public_id == prepared.public_id
    # auto_now_add/auto_now took the time of compiling, before the transaction.
    assert stored.created_at == prepared.created_at and stored.updated_at == prepared.updated_at


def test_insert_runs_in_the_callers_transaction(client_record: Client) -> None:
    insert = PreparedInsert([_administration(client_record)])
    with pytest.raises(RuntimeError), transaction.atomic():
        insert.execute()
        raise RuntimeError("the rest of the submit failed")
    assert not Administration.objects.exists()


def test_a_constraint_error_is_raised_not_swallowed(client_record: Client) -> None:
    bad = _administration(client_record)
    bad.complete = None  # type: ignore[assignment]  # NOT NULL
    insert = PreparedInsert([bad])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert.execute()
    assert not Administration.objects.exists()


def _alert(client: Client, key: str, *, title: str = "Alert") -> Alert:
    return Alert(
        organisation_id=client.organisation_id,
        program_id=client.program_id,
        client=client,
        kind=AlertKind.DETERIORATION,
        title=title,
        dedupe_key=key,
        raised_at=timezone.now(),
    )


def test_ignore_conflicts_skips_uniqueness_conflicts_only(client_record: Client) -> None:
    """One unresolved alert per client and cause: a second one is skipped, as by
    ``bulk_create(ignore_conflicts=True)``; other rows of the same statement are kept."""
    _alert(client_record, "phq-9:deterioration").save()
    PreparedInsert(
        [
            _alert(client_record, "phq-9:deterioration"),
            _alert(client_record, "gad-7:deterioration"),
        ],
        ignore_conflicts=True,
    ).execute()
    assert sorted(Alert.objects.values_list("dedupe_key", flat=True)) == [
        "gad-7:deterioration",
        "phq-9:deterioration",
    ]
    resolved = Alert.objects.get(dedupe_key="phq-9:deterioration")
    Alert.objects.filter(pk=resolved.pk).update(status=AlertStatus.RESOLVED)
    PreparedInsert([_alert(client_record, "phq-9:deterioration")], ignore_conflicts=True).execute()
    assert Alert.objects.filter(dedupe_key="phq-9:deterioration").count() == 2
    # A NOT NULL violation is not a uniqueness conflict: it fails loudly.
    broken = _alert(client_record, "audit:deterioration")
    broken.title = None  # type: ignore[assignment]
    with pytest.raises(IntegrityError), transaction.atomic():
        PreparedInsert([broken], ignore_conflicts=True).execute()


def test_ignore_conflicts_is_the_statement_bulk_create_sends(client_record: Client) -> None:
    rows = [_alert(client_record, "a"), _alert(client_record, "b")]
    with _sent() as orm_sql:
        Alert.objects.bulk_create(rows, ignore_conflicts=True)
    Alert.objects.all().delete()
    with _sent() as prepared_sql:
        PreparedInsert(
            [_alert(client_record, "a"), _alert(client_record, "b")], ignore_conflicts=True
        ).execute()
    assert prepared_sql == orm_sql and len(orm_sql) == 1
    assert Alert.objects.count() == 2


def test_a_reused_insert_of_several_rows_sends_what_bulk_create_sends(
    client_record: Client, no_verify: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several rows: PostgreSQL's compiler writes them as one UNNEST with a list per column,
    SQLite's as VALUES rows; either text is kept and reused with the values in its order."""
    keys = [k for k in writes._SQL if k[0] is Alert]
    for key in keys:
        del writes._SQL[key]
    PreparedInsert(
        [_alert(client_record, "first"), _alert(client_record, "second")], ignore_conflicts=True
    ).execute()
    key = (Alert, "default", connection.vendor, 2, True)
    assert writes._SQL[key][1] is (connection.vendor == "postgresql")  # by column there
    by_orm = [_alert(client_record, "orm a"), _alert(client_record, "orm b")]
    by_orm[1].immediate, by_orm[1].detail = True, "second row"
    with _sent() as orm_sql:
        Alert.objects.bulk_create(by_orm, ignore_conflicts=True)

    def no_compile(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled again")

    monkeypatch.setattr(PreparedInsert, "_compile", no_compile)
    reused = [_alert(client_record, "reused a"), _alert(client_record, "reused b")]
    reused[1].immediate, reused[1].detail = True, "second row"
    with _sent() as reused_sql:
        PreparedInsert(reused, ignore_conflicts=True).execute()
    assert reused_sql == orm_sql and len(orm_sql) == 1
    stored = {a.dedupe_key: a for a in Alert.objects.all()}
    for mine, theirs in zip(reused, by_orm, strict=True):
        got, want = stored[mine.dedupe_key], stored[theirs.dedupe_key]
        assert (got.immediate, got.detail, got.title, got.client_id) == (
            want.immediate,
            want.detail,
            want.title,
            want.client_id,
        )
    assert [stored["reused a"].immediate, stored["reused b"].immediate] == [False, True]


def test_the_suite_checks_a_reused_insert_of_several_rows_with_json_values(
    client_record: Client,
) -> None:
    """Under VERIFY a reused several-row text is compiled again and compared value by value:
    JSON values (psycopg's wrappers compare by identity) inside PostgreSQL's column lists too."""
    assert prepared_module.VERIFY
    for key in [k for k in writes._SQL if k[0] is Administration]:
        del writes._SQL[key]
    for total in (3.0, 4.0):
        PreparedInsert(
            [_administration(client_record, total), _administration(client_record, total + 10)],
            ignore_conflicts=True,
        ).execute()
    assert (Administration, "default", connection.vendor, 2, True) in writes._SQL
    assert sorted(a.total or 0 for a in Administration.objects.all()) == [3, 4, 13, 14]
    assert {tuple(a.answers.items()) for a in Administration.objects.all()} == {
        (("1", "2"), ("9", "0"))
    }


@pytest.fixture
def no_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as production does: a reused INSERT is not compiled again to check it."""
    monkeypatch.setattr(prepared_module, "VERIFY", False)


def test_a_reused_insert_sends_what_the_orm_sends_and_stores_the_same_row(
    client_record: Client, no_verify: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second insert of a shape reuses the first one's SQL text without compiling (the
    compiler is made to fail), with its own values prepared as the compiler prepares them."""
    PreparedInsert([_administration(client_record)]).execute()  # the shape is now known
    by_orm = _administration(client_record, total=11.0)
    with _sent() as orm_sql:
        by_orm.save(force_insert=True)

    def no_compile(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled again")

    monkeypatch.setattr(PreparedInsert, "_compile", no_compile)
    reused = _administration(client_record, total=11.0)
    insert = PreparedInsert([reused])
    with _sent() as reused_sql:
        insert.execute()
    assert reused_sql == orm_sql and len(orm_sql) == 1
    assert _columns(reused) == _columns(by_orm)
    stored = Administration.objects.get(pk=reused.pk)
    assert stored.public_id == reused.public_id and stored.created_at == reused.created_at


def test_a_value_that_is_an_expression_is_compiled_in_full(
    client_record: Client, no_verify: None
) -> None:
    PreparedInsert([_administration(client_record)]).execute()  # the shape is now known
    with_expression = _administration(client_record)
    with_expression.total = Value(3.0) + Value(4.0)
    PreparedInsert([with_expression]).execute()
    assert Administration.objects.get(pk=with_expression.pk).total == 7.0


class _Doubled:
    """A value that compiles itself (``as_sql``) and is no expression (no
    ``resolve_expression``): ``get_db_prep_save`` passes it through, the compiler compiles it,
    with as many parameters as a plain value has."""

    def __init__(self, value: float) -> None:
        self.value = value

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return "(%s * 2)", [self.value]


def test_a_value_that_compiles_itself_is_compiled_in_full(
    client_record: Client, no_verify: None
) -> None:
    PreparedInsert([_administration(client_record)]).execute()  # the shape is now known
    doubled = _administration(client_record)
    doubled.total = _Doubled(3.5)  # type: ignore[assignment]
    PreparedInsert([doubled]).execute()
    assert Administration.objects.get(pk=doubled.pk).total == 7.0


def test_a_text_with_a_self_compiled_value_is_not_kept_for_reuse(
    client_record: Client, no_verify: None
) -> None:
    """The first insert of a shape sets the text reused by the next ones: one whose VALUES hold
    a value's own SQL (same number of parameters) must not be kept, or the next plain insert
    would double its total."""
    for key in [k for k in writes._SQL if k[0] is Administration]:
        del writes._SQL[key]
    doubled = _administration(client_record)
    doubled.total = _Doubled(3.5)  # type: ignore[assignment]
    PreparedInsert([doubled]).execute()
    plain = _administration(client_record, total=11.0)
    PreparedInsert([plain]).execute()
    assert Administration.objects.get(pk=doubled.pk).total == 7.0
    assert Administration.objects.get(pk=plain.pk).total == 11.0


def test_the_suite_checks_every_reuse_against_the_compiler(client_record: Client) -> None:
    """Under VERIFY (the suite's setting), a reused text that is not the compiler's fails."""
    assert prepared_module.VERIFY
    PreparedInsert([_administration(client_record)]).execute()
    key = next(k for k in writes._SQL if k[0] is Administration and not k[4])
    good = writes._SQL[key]
    try:
        writes._SQL[key] = (good[0].replace('"total"', '"band"', 1), good[1])
        with pytest.raises(AssertionError, match="Reused INSERT differs"):
            PreparedInsert([_administration(client_record)])
    finally:
        writes._SQL[key] = good
    PreparedInsert([_administration(client_record)]).execute()
    assert Administration.objects.count() == 2


def test_insert_refuses_what_it_cannot_do(client_record: Client, org: Organisation) -> None:
    with pytest.raises(ValueError, match="at least one"):
        PreparedInsert([])
    with pytest.raises(ValueError, match="one object"):
        PreparedInsert([_administration(client_record), _administration(client_record)])
    with pytest.raises(ValueError, match="one model"):
        PreparedInsert([_alert(client_record, "a"), _administration(client_record)])


# --- prepared UPDATE --------------------------------------------------------------------------


def _link(client: Client, issuer: User, *, hours: int = 1) -> MeasureLink:
    return MeasureLink.objects.create(
        organisation_id=client.organisation_id,
        issued_by=issuer,
        client=client,
        instrument="phq-9",
        secret_hash=f"hash-{MeasureLink.objects.count()}",
        expires_at=timezone.now() + timedelta(hours=hours),
    )


SPEND = prepared_update(
    lambda link_id, used_at, now: (
        MeasureLink.objects.filter(pk=link_id, used_at__isnull=True, expires_at__gt=now),
        {"used_at": used_at},
    ),
    link_id=int,
    used_at=datetime,
    now=datetime,
)


def test_update_is_the_orm_update_and_counts_the_rows_it_changed(
    client_record: Client, theo: User
) -> None:
    link, expired = _link(client_record, theo), _link(client_record, theo, hours=-1)
    now = timezone.now()
    with CaptureQueriesContext(connection) as orm_sql:
        MeasureLink.objects.filter(pk=expired.pk, used_at__isnull=True, expires_at__gt=now).update(
            used_at=now
        )
    with CaptureQueriesContext(connection) as prepared_sql:
        assert SPEND.execute(link_id=expired.pk, used_at=now, now=now) == 0  # expired
    # The same SQL with the same values, as the debug cursor shows them.
    assert [q["sql"] for q in prepared_sql] == [q["sql"] for q in orm_sql]
    assert SPEND.execute(link_id=link.pk, used_at=now, now=now) == 1
    assert SPEND.execute(link_id=link.pk, used_at=now, now=now) == 0  # already spent
    link.refresh_from_db()
    expired.refresh_from_db()
    assert link.used_at == now and expired.used_at is None


def test_update_runs_one_statement_per_execute(
    client_record: Client, theo: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared_module, "VERIFY", False)  # as in production
    links = [_link(client_record, theo) for _ in range(3)]
    calls: list[Any] = []

    def build(link_id: int, used_at: Any) -> Any:
        calls.append(link_id)
        return MeasureLink.objects.filter(pk=link_id), {"used_at": used_at}

    update = prepared_update(build, link_id=int, used_at=datetime)
    for link in links:
        with CaptureQueriesContext(connection) as ctx:
            assert update.execute(link_id=link.pk, used_at=timezone.now()) == 1
        assert len(ctx) == 1
    # Built from samples only: once, then once more per parameter; never from a real key.
    assert len(calls) == 3 and not {link.pk for link in links} & set(calls)
    assert MeasureLink.objects.filter(used_at__isnull=True).count() == 0


def test_updates_that_cannot_be_prepared_are_refused(client_record: Client) -> None:
    with pytest.raises(ImproperlyConfigured, match="list"):
        prepared_update(
            lambda ids: (MeasureLink.objects.filter(pk__in=ids), {}),
            ids=ListOf(int),  # type: ignore[arg-type]  # refused at run time as well
        )
    shifted = prepared_update(
        lambda born: (
            Client.objects.filter(pk=client_record.pk),
            {"date_of_birth": born + timedelta(days=1)},
        ),
        born=date,
    )
    with pytest.raises(ImproperlyConfigured, match="computed from 'born'"):
        shifted.execute(born=date(1990, 1, 1))
    with pytest.raises(TypeError, match="execute"):
        SPEND.all(link_id=1, used_at=timezone.now(), now=timezone.now())
    with pytest.raises(TypeError, match="expected parameters"):
        SPEND.execute(link_id=1)
    assert Client.objects.get(pk=client_record.pk).date_of_birth == client_record.date_of_birth
