"""Writes compiled before the transaction, run inside it.

On SQLite one writer holds the database from ``BEGIN IMMEDIATE`` to ``COMMIT``; every other
writer waits (``iptcare.core.db.sqlite3``). What runs under that lock should be the statements,
not the Python that builds them: compiling an ORM INSERT of a wide row (each field's value
prepared, JSON encoded, the SQL assembled) costs several times what executing it does, and a
worker preempted while it compiles keeps every other writer waiting (bench/README.md, "Where
the time goes"). So a hot write path compiles with Django's own compilers first, exactly as
``save()``/``bulk_create()``/``update()`` would, and only executes under the lock::

    insert = PreparedInsert([administration])          # before the transaction
    with transaction.atomic():
        insert.execute()                               # sets administration.pk

The SQL is the SQL those ORM calls send: the same statements, the same parameters, captured by
the same debug cursor in tests. What moves is *when* values are prepared: ``auto_now`` and
``auto_now_add`` fields take the time of compiling, a moment before the transaction. No model
signals are sent (the ORM calls they replace are only used where no receiver exists).

The SQL text depends only on the model, the number of rows and the options, so it is kept per
shape once compiled: a later insert of the same shape takes its values exactly as the compiler
would (each field's ``pre_save`` then ``get_db_prep_save``) and reuses the text. A shape is kept
only when every value went in as a plain ``%s`` parameter (no expression, no field with a
placeholder of its own); otherwise every insert of it is compiled in full. On PostgreSQL an
insert of two rows or more is written ``INSERT … SELECT * FROM UNNEST((%s)::type[], …)``, one
parameter per field holding every row's value, and kept as well (its values then go in by
column). Under ``VERIFY`` (the test suite) each reuse is also compiled in full and must match.

An UPDATE of fixed shape whose values are only known under the lock (a key just returned by an
INSERT) is a ``prepared_update`` instead (iptcare.core.db.prepared): compiled once, re-run.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import Field, Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

from iptcare.core.db import prepared

# (model, alias, vendor, rows, ignore_conflicts) -> the INSERT's SQL text, for shapes whose
# values are all plain parameters (module docstring), and whether they go in by column.
_SQL: dict[tuple[type[Model], str, str, int, bool], tuple[str, bool]] = {}
_SQL_LOCK = threading.Lock()


class PreparedInsert:
    """An INSERT of ``objs`` (all of one model), compiled now, executed by ``execute()``.

    Without ``ignore_conflicts`` exactly one object is inserted and gets its primary key back
    (``RETURNING``), as ``save(force_insert=True)`` does. With it, rows that break a uniqueness
    constraint are skipped (``bulk_create(ignore_conflicts=True)``) and no keys come back."""

    def __init__(
        self, objs: Sequence[Model], *, ignore_conflicts: bool = False, using: str = "default"
    ) -> None:
        if not objs:
            raise ValueError("PreparedInsert needs at least one object.")
        model = type(objs[0])
        if any(type(obj) is not model for obj in objs):
            raise ValueError("PreparedInsert inserts objects of one model.")
        if not ignore_conflicts and len(objs) != 1:
            raise ValueError("PreparedInsert returns keys for one object only.")
        meta = model._meta
        if meta.parents:
            raise ValueError("PreparedInsert does not write multi-table inherited models.")
        self._objs = list(objs)
        self._using = using
        connection = connections[using]
        self._returning = [] if ignore_conflicts else list(meta.db_returning_fields)
        if self._returning and not connection.features.can_return_columns_from_insert:
            raise ValueError(f"{connection.vendor} cannot return the keys of an INSERT.")
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
        key = (model, using, connection.vendor, len(self._objs), ignore_conflicts)
        kept = _SQL.get(key)
        values = (
            _plain_values(fields, self._objs, connection, by_column=kept[1])
            if kept is not None
            else None
        )
        if kept is not None and values is not None:
            self._statements: list[tuple[str, Any]] = [(kept[0], values)]
            self._returning_params: Any = ()
            if prepared.VERIFY:
                self._verify(fields, ignore_conflicts, by_column=kept[1])
            return
        self._statements, self._returning_params = self._compile(fields, ignore_conflicts)
        form = _reusable(fields, self._objs, self._statements, self._returning_params)
        if form is not None:
            with _SQL_LOCK:
                _SQL[key] = (self._statements[0][0], form == BY_COLUMN)

    def _verify(
        self, fields: list[Field[Any, Any]], ignore_conflicts: bool, *, by_column: bool
    ) -> None:
        """Compile in full and require the reused statement's text and values (the times of
        ``auto_now`` fields, taken again by the compile, excepted); keep the compiled one."""
        reused_sql, reused = self._statements[0]
        compiled, _ = self._compile(fields, ignore_conflicts)
        clock = [getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) for f in fields]
        if not by_column:
            clock *= len(self._objs)
        if len(compiled) != 1 or compiled[0][0] != reused_sql:
            raise AssertionError(f"Reused INSERT differs:\n{reused_sql}\n{compiled!r}")
        expected = list(compiled[0][1])
        if [_comparable(v) for v, t in zip(reused, clock, strict=True) if not t] != [
            _comparable(v) for v, t in zip(expected, clock, strict=True) if not t
        ]:
            raise AssertionError(f"Reused INSERT's values differ:\n{reused!r}\n{expected!r}")
        self._statements = compiled

    def _compile(
        self, fields: list[Field[Any, Any]], ignore_conflicts: bool
    ) -> tuple[list[tuple[str, Any]], Any]:
        """The statements as Django's insert compiler writes them, values prepared on the way."""
        query = InsertQuery(
            type(self._objs[0]), on_conflict=OnConflict.IGNORE if ignore_conflicts else None
        )
        query.insert_values(fields, self._objs, raw=False)
        compiler = query.get_compiler(using=self._using)
        compiler.returning_fields = self._returning or None
        statements: list[tuple[str, Any]] = compiler.as_sql()
        return statements, compiler.returning_params

    def execute(self) -> None:
        """Run the INSERT in the current transaction and mark the objects as saved."""
        connection = connections[self._using]
        returned: Sequence[Any] = ()
        with connection.cursor() as cursor:
            for sql, params in self._statements:
                cursor.execute(sql, params)
            if self._returning:
                returned = connection.ops.fetch_returned_insert_columns(
                    cursor, self._returning_params
                )
        self.saved(returned)

    def statement(self) -> tuple[str, list[Any]]:
        """The INSERT as one statement and its parameters, to send as part of a larger one (a
        data-modifying CTE, ``iptcare.core.db.statement``); then ``saved`` with what its
        RETURNING gave (the columns of ``returning``, in that order)."""
        if len(self._statements) != 1 or self._returning_params:
            raise ValueError("This INSERT is not one statement with plain parameters.")
        sql, params = self._statements[0]
        return sql, list(params)

    @property
    def returning(self) -> list[str]:
        """The columns the INSERT returns (the primary key), none with ``ignore_conflicts``."""
        return [field.column for field in self._returning]

    def saved(self, returned: Sequence[Any] = ()) -> None:
        """Mark the objects as saved, with the values the INSERT returned."""
        for field, value in zip(self._returning, returned, strict=True):
            setattr(self._objs[0], field.attname, value)
        for obj in self._objs:
            obj._state.adding = False
            obj._state.db = self._using


def _comparable(value: Any) -> Any:
    """A parameter as it can be compared: psycopg's JSON wrappers (``Jsonb``), which compare by
    identity, by their type and the object they wrap; a column's list, element by element."""
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if hasattr(value, "obj") and hasattr(value, "dumps"):
        return type(value), value.obj
    return value


def _plain_values(
    fields: Sequence[Field[Any, Any]],
    objs: Sequence[Model],
    connection: Any,
    *,
    by_column: bool = False,
) -> list[Any] | None:
    """The INSERT's parameters as the compiler prepares them (``pre_save`` with ``add=True``,
    then ``get_db_prep_save``): row by row, or ``by_column`` one list per field holding each
    row's value (``BY_COLUMN``) — or None when a value is an expression or compiles itself
    (``as_sql``, which ``get_db_prep_save`` passes through): only a full compile places those."""
    values: list[Any] = []
    for obj in objs:
        for field in fields:
            value = field.pre_save(obj, add=True)
            if hasattr(value, "resolve_expression"):
                return None
            value = field.get_db_prep_save(value, connection=connection)
            if hasattr(value, "as_sql"):
                return None
            values.append(value)
    if by_column:
        width = len(fields)
        return [values[column::width] for column in range(width)]
    return values


# How a kept INSERT takes its values (``_reusable``).
BY_ROW = "by row"
BY_COLUMN = "by column"


def _reusable(
    fields: Sequence[Field[Any, Any]],
    objs: Sequence[Model],
    statements: list[tuple[str, Any]],
    returning_params: Any,
) -> str | None:
    """Whether a compiled INSERT's text can serve every insert of its shape, and how it takes
    its values: one statement, no field placing its own placeholder, no returning parameters
    (Oracle's), and either one plain parameter per field and row (``BY_ROW``: its VALUES all
    ``%s``, no value that compiled itself into other SQL) or, as Django's PostgreSQL compiler
    writes an insert of two rows or more, ``SELECT * FROM UNNEST((%s)::type[], …)`` with one
    parameter per field, the list of every row's value (``BY_COLUMN``). None if neither."""
    if len(statements) != 1 or returning_params:
        return None
    if any(hasattr(field, "get_placeholder") for field in fields):
        return None
    sql, params = statements[0]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    plain = "VALUES " + ", ".join([row] * len(objs))
    if len(params) == len(fields) * len(objs) and plain in sql:
        return BY_ROW
    columns = "UNNEST(" + ", ".join(["(%s)::"] * len(fields))
    if (
        len(objs) > 1
        and len(params) == len(fields)
        and all(isinstance(column, list) and len(column) == len(objs) for column in params)
        and " SELECT * FROM UNNEST(" in sql
        and _without_types(sql).count(columns) == 1
    ):
        return BY_COLUMN
    return None


def _without_types(sql: str) -> str:
    """``sql`` with each ``(%s)::type[]`` of an UNNEST written ``(%s)::`` (to count them)."""
    return re.sub(r"\(%s\)::[a-z0-9_ ]+\[\]", "(%s)::", sql)
