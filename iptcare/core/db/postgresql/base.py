"""PostgreSQL with a health check that costs no round trip while the connection is quiet.

Django checks a persistent connection before its first use in each request
(``CONN_HEALTH_CHECKS``) by sending ``SELECT 1``: one more round trip on every request, with
the server woken to answer it. Under load on the benchmark machine that was about 14 % of a
gunicorn worker's time during the questionnaire submit (a sampling profile, bench/README.md).

A connection that sits idle between requests has nothing to read: the server sends nothing
unasked. When the server ends it — a restart, ``pg_terminate_backend``, an idle-session timeout —
it sends its FATAL error and closes the socket, and the socket becomes readable. So here the
check first polls the socket without waiting: nothing to read, and psycopg does not know it
broken, means the connection is as the last request left it, and no statement is sent. Anything
to read (or a transaction left open) falls back to Django's own ``SELECT 1``, which reads what
the server said and closes the connection if it is gone. What neither check can see quickly is a
peer that vanished without a word (a cut network); ``SELECT 1`` would then hang as well.

After an error in a request Django still checks with ``SELECT 1`` (``is_usable``, unchanged).

``raw_cursor()`` gives a cursor for statements written with PostgreSQL's own placeholders
(``iptcare.core.db.statement``); ``statement_cursor(sql)`` one kept open for one hot statement.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper
from django.db.backends.postgresql.operations import (
    DatabaseOperations as PostgreSQLDatabaseOperations,
)
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorWrapper
from django.utils.asyncio import async_unsafe
from psycopg import Connection, RawCursor, postgres, pq


def _quiet(connection: Connection[Any]) -> bool:
    """True if a psycopg connection is open, idle outside a transaction, not known broken, and
    has nothing waiting to be read on its socket (checked without blocking; ``poll``, not
    ``select``, which cannot watch a descriptor above 1023)."""
    if connection.closed or connection.broken:
        return False
    if connection.info.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return not poller.poll(0)


class DatabaseOperations(PostgreSQLDatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        """What the query log shows: for a ``raw_cursor`` statement its text as sent (with
        ``$1``, ``$2``…; Django would fill in the parameters by ``%s``, which it has none of)."""
        if isinstance(cursor, RawCursor):
            return sql
        query: str = super().last_executed_query(cursor, sql, params)
        return query


# How many statements of one connection may each keep a cursor (``statement_cursor``): the hot
# paths' few; a statement beyond them gets a new cursor on every run, as any other.
KEPT_CURSORS = 8


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The psycopg connection the kept cursors belong to, and the cursors by statement.
        self._kept_for: Connection[Any] | None = None
        self._kept: dict[tuple[str, bool], CursorWrapper] = {}

    def close_if_health_check_failed(self) -> None:
        """Django's check (called before each cursor, effective once per request), with no
        round trip while the connection is quiet; otherwise Django's ``SELECT 1``."""
        done: bool = self.health_check_done  # type: ignore[has-type]
        if not done and self.connection is not None and _quiet(self.connection):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    @async_unsafe
    def raw_cursor(self) -> CursorWrapper:
        """A cursor (checked, wrapped and logged as ``cursor()``'s) whose statements use
        PostgreSQL's own placeholders, ``$1``, ``$2``…, sent as they are (``psycopg.RawCursor``).
        psycopg turns ``%s`` into those by parsing the statement, and keeps the result only for
        statements under 4,096 characters and 50 parameters: a longer one is parsed again on
        every run — about half of the client CPU of the one-statement link submit (ADR 0013)."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor: RawCursor[Any] = RawCursor(self.connection)
            # As Django's create_cursor: the cursor's time zone, where the connection's differs.
            oid = postgres.types["timestamptz"].oid
            loader = self.connection.adapters.get_loader(oid, pq.Format.TEXT)
            if self.timezone != getattr(loader, "timezone", None):
                register_tzloader(self.timezone, cursor)
            wrapped: CursorWrapper = self._prepare_cursor(cursor)  # type: ignore[attr-defined]
            return wrapped

    @async_unsafe
    @contextmanager
    def statement_cursor(self, sql: str, *, raw: bool = False) -> Iterator[CursorWrapper]:
        """A cursor (``raw_cursor()``'s kind if ``raw``, else ``cursor()``'s) for running the
        statement ``sql`` — that very string object, whose one row is read at once — kept open
        from one run to the next instead of made and closed each time.

        psycopg keeps what it worked out for a cursor's statement (its ``Transformer``: the
        dumper of each parameter's type, the loader of each result column's) only while the
        same cursor runs the same statement object again; a new cursor works it all out anew.
        On the questionnaire submit, whose two statements run this way, that was about 0.11 ms
        of the ~2 ms of Python per submit (measured in-process on PostgreSQL, alternating blocks
        of 50 submits with and without, 2026-12-05; bench/README.md).

        Checked first as ``cursor()`` is (the health check, a connection opened if needed).
        Not kept while queries are logged (``DEBUG``, a test's ``CaptureQueriesContext``): the
        cursor is made, wrapped for logging and closed as ``cursor()``'s, so every statement is
        logged. The kept cursors belong to one connection: a new one starts without any, and
        closing the connection drops them."""
        if self.queries_logged:
            with self.raw_cursor() if raw else self.cursor() as logged:
                yield logged
            return
        self.close_if_health_check_failed()
        self.ensure_connection()
        if self._kept_for is not self.connection:
            self._kept_for, self._kept = self.connection, {}
        key = (sql, raw)
        kept = self._kept.get(key)
        if kept is None:
            kept = self.raw_cursor() if raw else self.cursor()
            if len(self._kept) >= KEPT_CURSORS:
                with kept:
                    yield kept
                return
            self._kept[key] = kept
        yield kept

    def _close(self) -> None:
        self._kept_for, self._kept = None, {}
        super()._close()  # type: ignore[misc]
