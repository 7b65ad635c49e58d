"""PostgreSQL: a write of several parts as one statement (ADR 0013).

Each statement of a transaction is a round trip, and on both sides of it a fixed cost in CPU
(Django's cursor, psycopg, the server's protocol and executor start-up), on top of ``BEGIN``
and ``COMMIT`` (measured: three INSERT/UPDATEs in a transaction cost 2.5 times the CPU of the
same three as data-modifying CTEs of one statement; ADR 0013). A hot write path whose
parts do not need each other's results in Python can send them as one statement::

    WITH adm AS (INSERT ... RETURNING id),
         spent AS (UPDATE ... SET administration_id = (SELECT id FROM adm) ... RETURNING 1)
    SELECT (SELECT id FROM adm), iptcare_require(EXISTS (SELECT FROM spent), 'gone')

A statement is atomic by itself: outside a transaction it is its own (autocommit), so it needs no
``BEGIN``/``COMMIT``; inside one (a test, a caller's block) it runs in a savepoint, so that a
failed requirement undoes it alone. ``iptcare_require`` (migration core/0002) raises
``REQUIREMENT_FAILED``, which aborts the statement and everything its CTEs wrote;
``fetch_one`` turns that into ``RequirementFailed``. Every CTE runs to completion whether or not
the final SELECT reads it (PostgreSQL's rule for data-modifying WITH), and all of them see the
same snapshot, so a part must not need to *read* what another part writes, only its RETURNING.

Such a statement is long and has many parameters, which psycopg would parse for its ``%s`` on
every run (it caches only short statements): ``numbered`` rewrites them once per statement text
into PostgreSQL's ``$1``, ``$2``…, and the statement runs on a ``raw_cursor`` of the backend
(iptcare.core.db.postgresql), which sends it as it is, kept for that statement from one run to
the next (``statement_cursor``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import nullcontext
from functools import lru_cache
from typing import Any

from django.db import DatabaseError, NotSupportedError, connections, transaction

# The SQLSTATE ``iptcare_require`` raises (migration core/0002).
REQUIREMENT_FAILED = "IPT01"


class RequirementFailed(Exception):
    """An ``iptcare_require`` in the statement was false: nothing of it was kept."""


_PLACEHOLDER = re.compile(r"%(.)", re.DOTALL)


@lru_cache(maxsize=64)
def numbered(sql: str) -> tuple[str, int]:
    """``sql`` written with Django's placeholders (``%s``, and ``%%`` for a literal ``%``, as
    psycopg reads them) in PostgreSQL's own (``$1``, ``$2``…), and how many there are."""
    count = 0

    def rewrite(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1) == "%":
            return "%"
        if match.group(1) == "s":
            count += 1
            return f"${count}"
        raise ValueError(f"Unsupported placeholder %{match.group(1)} (only %s and %%).")

    return _PLACEHOLDER.sub(rewrite, sql), count


def fetch_one(sql: str, params: Sequence[Any], *, using: str = "default") -> tuple[Any, ...]:
    """Run ``sql`` as one atomic statement and return its one row."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise NotSupportedError("One-statement writes are for PostgreSQL.")
    native, count = numbered(sql)
    if count != len(params):
        raise ValueError(f"{count} placeholders but {len(params)} parameters.")
    block = transaction.atomic(using=using) if connection.in_atomic_block else nullcontext()
    with block, connection.statement_cursor(native, raw=True) as cursor:  # type: ignore[attr-defined]
        try:
            cursor.execute(native, params)
        except DatabaseError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == REQUIREMENT_FAILED:
                raise RequirementFailed(str(exc.__cause__)) from None
            raise
        row = cursor.fetchone()
    if row is None:
        raise DatabaseError("A one-statement write returned no row.")
    return tuple(row)
