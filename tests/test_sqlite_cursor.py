"""The SQLite backend's cursor converts each statement's parameter style once and runs exactly
what Django's would (iptcare.core.db.sqlite3.CursorWrapper)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.sqlite3.base import SQLiteCursorWrapper

from iptcare.core.db.sqlite3 import base as sqlite_backend
from iptcare.core.db.sqlite3.base import DatabaseWrapper
from tests.helpers import scratch_sqlite

STATEMENTS = (
    "SELECT %s",
    "SELECT v FROM t WHERE v LIKE %s ESCAPE '\\' AND id > %s",
    "SELECT '100%%', %s",
    "SELECT '%%s', %s",
    "INSERT INTO t (v) VALUES (%s) RETURNING id",
)


@pytest.fixture
def wrapper(tmp_path: Path, django_db_blocker: Any) -> Iterator[DatabaseWrapper]:
    django_db_blocker.unblock()
    wrapper = scratch_sqlite(tmp_path / "cursor.sqlite3")
    yield wrapper
    wrapper.close()
    django_db_blocker.restore()


@pytest.mark.parametrize("query", STATEMENTS)
def test_each_statement_converts_as_djangos_cursor_converts_it(query: str) -> None:
    assert sqlite_backend._qmark(query) == SQLiteCursorWrapper.convert_query(None, query)  # type: ignore[attr-defined]


def test_a_statement_run_again_is_not_converted_again(wrapper: DatabaseWrapper) -> None:
    sqlite_backend._qmark.cache_clear()
    with wrapper.cursor() as cursor:
        for n in range(3):
            cursor.execute("INSERT INTO t (v) VALUES (%s)", [f"row {n}"])
        cursor.execute("SELECT count(*), '100%%' FROM t WHERE v LIKE %s", ["row%"])
        assert cursor.fetchone() == (3, "100%")
    info = sqlite_backend._qmark.cache_info()
    assert (info.misses, info.hits) == (2, 2)


def test_statements_without_or_with_named_parameters_run_as_in_django(
    wrapper: DatabaseWrapper,
) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("INSERT INTO t (v) VALUES ('a%%b')")  # no parameters: run as written
        cursor.execute("INSERT INTO t (v) VALUES (%(value)s)", {"value": "named"})
        cursor.execute("SELECT v FROM t ORDER BY id")
        assert cursor.fetchall() == [("a%%b",), ("named",)]
