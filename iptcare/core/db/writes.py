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

An UPDATE of fixed shape whose values are only known under the lock (a key just returned by an
INSERT) is a ``prepared_update`` instead (iptcare.core.db.prepared): compiled once, re-run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery


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
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
        query.insert_values(fields, self._objs, raw=False)
        compiler = query.get_compiler(using=using)
        self._returning = [] if ignore_conflicts else list(meta.db_returning_fields)
        if self._returning and not connection.features.can_return_columns_from_insert:
            raise ValueError(f"{connection.vendor} cannot return the keys of an INSERT.")
        compiler.returning_fields = self._returning or None
        self._statements: list[tuple[str, Any]] = compiler.as_sql()
        self._returning_params = compiler.returning_params

    def execute(self) -> None:
        """Run the INSERT in the current transaction and mark the objects as saved."""
        connection = connections[self._using]
        with connection.cursor() as cursor:
            for sql, params in self._statements:
                cursor.execute(sql, params)
            if self._returning:
                values = connection.ops.fetch_returned_insert_columns(
                    cursor, self._returning_params
                )
                for field, value in zip(self._returning, values, strict=True):
                    setattr(self._objs[0], field.attname, value)
        for obj in self._objs:
            obj._state.adding = False
            obj._state.db = self._using
