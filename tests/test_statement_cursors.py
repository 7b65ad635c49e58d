"""PostgreSQL keeps a cursor for each hot statement (``statement_cursor``,
iptcare.core.db.postgresql): the same cursor runs the statement every time, so psycopg keeps what
it worked out for it; never while queries are logged; gone with the connection."""

from __future__ import annotations

import uuid

import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext

from iptcare.core.db import prepared as prepared_module
from iptcare.core.db import statement
from iptcare.core.db.postgresql import base as pg_backend
from iptcare.core.models import Organisation

SQL = "SELECT %s::int + 1"


def _run(sql: str, value: int, *, raw: bool = False) -> tuple[object, int]:
    """The cursor ``statement_cursor`` handed out for ``sql`` and what it answered."""
    with connection.statement_cursor(sql, raw=raw) as cursor:  # type: ignore[attr-defined]
        cursor.execute(sql, [value])
        (answer,) = cursor.fetchone()
    return cursor, answer


def _on_postgresql() -> bool:
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"
        assert not hasattr(connection, "statement_cursor")  # SQLite's cursors are plain
        return False
    return True


@pytest.mark.django_db
def test_a_statement_runs_on_its_own_cursor_every_time() -> None:
    if not _on_postgresql():
        return
    first, answer = _run(SQL, 1)
    transformer = first.cursor._tx  # type: ignore[attr-defined]
    again, second_answer = _run(SQL, 41)
    assert (answer, second_answer) == (2, 42)
    assert again is first and not first.cursor.closed  # type: ignore[attr-defined]
    # What the change is for: psycopg kept the statement's adapters and loaders.
    assert first.cursor._tx is transformer  # type: ignore[attr-defined]

    other_sql = "SELECT %s::int + 2"
    other, other_answer = _run(other_sql, 1)
    raw, raw_answer = _run("SELECT $1::int + 3", 1, raw=True)
    assert (other_answer, raw_answer) == (3, 4)
    assert len({id(first), id(other), id(raw)}) == 3


@pytest.mark.django_db
def test_a_failed_run_leaves_the_cursor_usable() -> None:
    if not _on_postgresql():
        return
    sql = "SELECT 10 / %s::int"
    kept, answer = _run(sql, 5)
    with pytest.raises(DataError), connection.cursor() as guard:  # in a savepoint, as the ORM
        guard.execute("SAVEPOINT before_division")
        _run(sql, 0)
    with connection.cursor() as cursor:
        cursor.execute("ROLLBACK TO SAVEPOINT before_division")
    again, second_answer = _run(sql, 2)
    assert (answer, second_answer) == (2, 5) and again is kept


@pytest.mark.django_db
def test_nothing_is_kept_while_queries_are_logged() -> None:
    if not _on_postgresql():
        return
    kept, _ = _run(SQL, 1)
    with CaptureQueriesContext(connection) as logged:
        fresh, answer = _run(SQL, 2)
        fresh_again, _ = _run(SQL, 3)
    assert answer == 3
    assert fresh is not kept and fresh_again is not fresh
    assert fresh.cursor.closed and fresh_again.cursor.closed  # type: ignore[attr-defined]
    assert [q["sql"] for q in logged.captured_queries] == ["SELECT 2::int + 1", "SELECT 3::int + 1"]
    assert _run(SQL, 4)[0] is kept  # logging over: the kept one again


@pytest.mark.django_db(transaction=True)
def test_the_kept_cursors_go_with_their_connection() -> None:
    if not _on_postgresql():
        return
    kept, _ = _run(SQL, 1)
    old = connection.connection
    connection.close()
    assert connection._kept == {}  # type: ignore[attr-defined]
    assert kept.cursor.connection.closed  # type: ignore[attr-defined]
    fresh, answer = _run(SQL, 2)
    assert answer == 3 and fresh is not kept and connection.connection is not old
    assert _run(SQL, 3)[0] is fresh


@pytest.mark.django_db
def test_only_a_few_statements_keep_a_cursor() -> None:
    if not _on_postgresql():
        return
    connection._kept.clear()  # type: ignore[attr-defined]
    cursors = [_run(f"SELECT %s::int + {n}", 1)[0] for n in range(pg_backend.KEPT_CURSORS + 2)]
    assert len(connection._kept) == pg_backend.KEPT_CURSORS  # type: ignore[attr-defined]
    closed = [c.cursor.closed for c in cursors]  # type: ignore[attr-defined]
    assert closed == [False] * pg_backend.KEPT_CURSORS + [True, True]
    assert _run("SELECT %s::int + 0", 1)[0] is cursors[0]


@pytest.mark.django_db
def test_prepared_rows_and_one_statement_writes_use_kept_cursors(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _on_postgresql():
        return
    monkeypatch.setattr(prepared_module, "VERIFY", False)  # as in production
    name = prepared_module.prepared(
        lambda public_id: Organisation.objects.filter(public_id=public_id).values_list("name")[:1],
        public_id=uuid.UUID,
    )
    connection._kept.clear()  # type: ignore[attr-defined]
    assert name.row(public_id=org.public_id) == (org.name,)
    assert name.row(public_id=uuid.uuid4()) is None
    (key,) = connection._kept  # type: ignore[attr-defined]
    assert key[1] is False and "core_organisation" in key[0]

    assert statement.fetch_one("SELECT %s::int + 1, iptcare_require(true, %s)", [1, "x"])[0] == 2
    assert statement.fetch_one("SELECT %s::int + 1, iptcare_require(true, %s)", [2, "x"])[0] == 3
    assert sorted(raw for _sql, raw in connection._kept) == [False, True]  # type: ignore[attr-defined]
