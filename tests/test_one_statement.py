"""A write of several parts as one statement (iptcare.core.db.statement, ADR 0013): atomic on its
own, no BEGIN/COMMIT outside a transaction, a savepoint inside one, and ``iptcare_require``
undoing every part when its condition fails."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import NotSupportedError, connection
from django.test.utils import CaptureQueriesContext

from iptcare.core.db import statement
from tests.helpers import other_pg_session

TABLE = "test_one_statement_rows"
WRITE = (
    f"WITH a AS (INSERT INTO {TABLE} (v) VALUES (%s) RETURNING id),"
    f" b AS (INSERT INTO {TABLE} (v) VALUES (%s) RETURNING id)"
    " SELECT (SELECT id FROM a), (SELECT id FROM b), iptcare_require(%s, %s)"
)


def _rows_seen_by_another_session() -> list[str]:
    with other_pg_session() as other:
        return [r[0] for r in other.execute(f"SELECT v FROM {TABLE} ORDER BY id")]


@pytest.fixture
def table() -> Any:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, v text NOT NULL)")
    yield TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_is_its_own(request: pytest.FixtureRequest) -> None:
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"
        with pytest.raises(NotSupportedError):
            statement.fetch_one("SELECT 1", [])
        return
    request.getfixturevalue("table")
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as ctx:
        first, second, ok = statement.fetch_one(WRITE, ["one", "two", True, "unused"])
    assert [q["sql"].split()[0] for q in ctx.captured_queries] == ["WITH"]  # no BEGIN/COMMIT
    assert ok is True and second != first
    assert _rows_seen_by_another_session() == ["one", "two"]  # committed by itself

    with pytest.raises(statement.RequirementFailed, match="the link is gone"):
        statement.fetch_one(WRITE, ["three", "four", False, "the link is gone"])
    assert _rows_seen_by_another_session() == ["one", "two"]  # neither part kept
    statement.fetch_one(WRITE, ["five", "six", True, "unused"])  # the connection is fine
    assert _rows_seen_by_another_session() == ["one", "two", "five", "six"]


@pytest.mark.django_db
def test_inside_a_transaction_a_failed_requirement_undoes_only_the_statement(
    request: pytest.FixtureRequest,
) -> None:
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"
        return
    request.getfixturevalue("table")
    assert connection.in_atomic_block
    statement.fetch_one(WRITE, ["kept", "kept too", True, "unused"])
    with CaptureQueriesContext(connection) as ctx, pytest.raises(statement.RequirementFailed):
        statement.fetch_one(WRITE, ["undone", "undone too", None, "no"])  # NULL fails too
    verbs = [q["sql"].split()[0] for q in ctx.captured_queries]
    assert verbs == ["SAVEPOINT", "WITH", "ROLLBACK", "RELEASE"]  # ROLLBACK TO SAVEPOINT
    with connection.cursor() as cursor:  # the caller's transaction goes on
        cursor.execute(f"SELECT v FROM {TABLE} ORDER BY id")
        assert [r[0] for r in cursor.fetchall()] == ["kept", "kept too"]


@pytest.mark.django_db
def test_other_errors_are_not_a_failed_requirement(request: pytest.FixtureRequest) -> None:
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"
        return
    request.getfixturevalue("table")
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        statement.fetch_one(WRITE, [None, "x", True, "unused"])  # NOT NULL


def test_placeholders_are_numbered_as_psycopg_reads_them() -> None:
    assert statement.numbered("SELECT %s, %s") == ("SELECT $1, $2", 2)
    assert statement.numbered("SELECT '100%%', %s LIKE 'a%%'") == ("SELECT '100%', $1 LIKE 'a%'", 1)
    assert statement.numbered("SELECT 1") == ("SELECT 1", 0)
    with pytest.raises(ValueError, match="%d"):
        statement.numbered("SELECT %d")
    with pytest.raises(ValueError, match=r"%\("):
        statement.numbered("SELECT %(name)s")


@pytest.mark.django_db
def test_the_statement_is_sent_with_its_own_placeholders() -> None:
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"
        return
    with CaptureQueriesContext(connection) as ctx:
        row = statement.fetch_one("SELECT %s::text || '%%', %s::int + 1", ["50", 41])
    assert row == ("50%", 42)
    assert ctx.captured_queries[1]["sql"] == "SELECT $1::text || '%', $2::int + 1"  # logged
    with pytest.raises(ValueError, match="2 placeholders but 1 parameters"):
        statement.fetch_one("SELECT %s, %s", [1])
