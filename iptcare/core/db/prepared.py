"""Prepared querysets: a fixed-shape ORM query is turned into SQL once, then only re-run.

Building and compiling a queryset costs far more Python than running it: on the benchmark
machine a ``select_related`` lookup by key takes about 2 ms to build and compile and well under
0.5 ms to execute (bench/README.md, "Where the time goes"). The hot paths (every authenticated
request, the chart, the questionnaire submit) run the same few queries with different keys, so
they declare them once::

    _CLIENT = prepared(
        lambda public_id: Client.objects.select_related("program").filter(public_id=public_id),
        public_id=UUID,
    )
    client = _CLIENT.first(public_id=some_uuid)

The first run on a database alias builds the queryset twice with two different sample values
per parameter and compiles both. The SQL must be identical (the values may not change the shape
of the query), and each parameter slot that differs must be exactly a sample value as the
database receives it (a value computed *from* a parameter inside ``build`` is refused: pass it as
its own parameter). Anything else raises ``ImproperlyConfigured`` at that first run, so a query
that cannot be prepared safely fails loudly in the tests instead of running wrong SQL.

Later runs clone the compiled queryset, put the real values into their slots and run Django's
own row handling (model instances, ``select_related``, annotations, ``values_list``), skipping
only the building and compiling, and working out which converter each column needs (once per
connection). Results are plain lists: a prepared query cannot be chained.

``row(**values)`` runs a prepared ``values_list`` on a plain cursor and returns its first row
as a tuple, converted by the same converters, skipping the queryset and its row handling too:
for a one-row lookup on a hot path that builds what it needs from the values (``link_open``).

In the test suite (``VERIFY``, set by tests/conftest.py) every run also builds and compiles the
ordinary queryset from the real values and requires the same SQL and parameters, so each
prepared query any test runs is checked against the ORM it replaces.

The compiled form is cached per (database alias, vendor, current time zone): SQL for date
lookups names the time zone. Parameters may be ``int``, ``str``, ``UUID``, ``date`` or
``datetime`` (not ``bool``: two samples cannot tell a boolean slot from a constant), or a
``ListOf`` one of these for ``__in`` (then also per list length).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import QuerySet, UUIDField
from django.db.models.query import ValuesListIterable
from django.db.models.sql import UpdateQuery
from django.utils import timezone

T = TypeVar("T")

# Compiled forms kept per query before its cache starts again (lists make one per length).
MAX_SHAPES = 64

# Cross-check every run against the ORM (tests/conftest.py turns it on; module docstring).
VERIFY = False

_SUPPORTED = (int, str, uuid.UUID, date, datetime)


@dataclass(frozen=True)
class ListOf:
    """A list parameter (for ``__in``): compiled once per list length. Duplicates and None are
    dropped first, order kept, as Django's ``__in`` does; an empty list runs no SQL at all."""

    kind: type


def _samples(kind: type | ListOf, index: int, length: int = 1) -> tuple[Any, Any]:
    """Two values of ``kind`` that no real query uses, distinct for every parameter (and, for a
    list, for every element)."""
    if isinstance(kind, ListOf):
        pairs = [_samples(kind.kind, 1000 * (index + 1) + i) for i in range(length)]
        return [a for a, _ in pairs], [b for _, b in pairs]
    if kind is bool or not issubclass(kind, _SUPPORTED):
        raise ImproperlyConfigured(f"A prepared query cannot take a {kind.__name__} parameter.")
    if issubclass(kind, int):
        return -(2_000_000_011 + 2 * index), -(2_000_000_012 + 2 * index)
    if issubclass(kind, str):
        return f"\x1fprepared-a-{index}", f"\x1fprepared-b-{index}"
    if issubclass(kind, uuid.UUID):
        return uuid.UUID(int=0xA11CE << 64 | 2 * index), uuid.UUID(
            int=0xA11CE << 64 | 2 * index + 1
        )
    if issubclass(kind, datetime):
        return (
            datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC) + timedelta(microseconds=2 * index + 1),
            datetime(1902, 3, 4, 5, 6, 7, tzinfo=UTC) + timedelta(microseconds=2 * index + 2),
        )
    return date(1901, 1, 1) + timedelta(days=index), date(1902, 1, 1) + timedelta(days=index)


def _adapters(connection: Any) -> list[Callable[[Any], Any]]:
    """How a value may reach the database: as itself, or adapted the way a field adapts it."""
    uuid_field: UUIDField[Any, Any] = UUIDField()
    return [
        lambda v: v,
        connection.ops.adapt_datetimefield_value,
        connection.ops.adapt_datefield_value,
        lambda v: uuid_field.get_db_prep_value(v, connection, prepared=False),
    ]


@dataclass(frozen=True)
class _Slot:
    position: int
    name: str
    element: int | None  # the list element, for a ListOf parameter
    adapt: Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    queryset: QuerySet[Any]
    sql: str
    params: tuple[Any, ...]
    slots: tuple[_Slot, ...]
    select: Any
    klass_info: Any
    annotation_col_map: Any
    col_count: int
    has_extra_select: bool
    # A plain ``values_list`` whose row is its columns as selected (``PreparedQuery.row``).
    plain_row: bool
    # The row converters Django derives from ``select`` for each connection (their functions
    # may be bound to it), kept for as long as that connection object lives.
    converters: weakref.WeakKeyDictionary[Any, tuple[tuple[int, ...], Any]] = field(
        default_factory=weakref.WeakKeyDictionary, compare=False
    )


class PreparedQuery(Generic[T]):
    """A queryset of fixed shape, compiled once per database and time zone (module docstring)."""

    def __init__(
        self, build: Callable[..., Any], params: Mapping[str, type | ListOf], using: str
    ) -> None:
        self._build = build
        self._params = dict(params)
        self._using = using
        self._cache: dict[tuple[str, str, str, tuple[int, ...]], _Compiled] = {}
        self._lock = threading.Lock()

    # -- running ---------------------------------------------------------------------------------

    def all(self, **values: Any) -> list[T]:
        if values.keys() != self._params.keys():
            raise TypeError(f"expected parameters {sorted(self._params)}, got {sorted(values)}")
        lengths: list[int] = []
        for name, kind in self._params.items():
            if isinstance(kind, ListOf):
                values[name] = [v for v in dict.fromkeys(values[name]) if v is not None]
                lengths.append(len(values[name]))
        if 0 in lengths:
            return []  # what the ORM returns for ``__in=[]``, without a query
        compiled = self._compiled(tuple(lengths))
        bound = self._bind(compiled, values)
        queryset = compiled.queryset._chain()  # type: ignore[attr-defined]
        query = queryset.query
        sql, params = compiled.sql, tuple(bound)

        def get_compiler(
            using: str | None = None, connection: Any = None, elide_empty: bool = True
        ) -> Any:
            connection = connections[using] if using else connection
            compiler = connection.ops.compiler(query.compiler)(
                query, connection, using, elide_empty
            )
            compiler.select = compiled.select
            compiler.klass_info = compiled.klass_info
            compiler.annotation_col_map = compiled.annotation_col_map
            compiler.col_count = compiled.col_count
            compiler.has_extra_select = compiled.has_extra_select
            compiler.as_sql = lambda *args, **kwargs: (sql, params)
            compiler.get_converters = lambda expressions: _converters(
                compiled, compiler, connection, expressions
            )
            return compiler

        query.get_compiler = get_compiler
        if VERIFY:
            self._verify(values, sql, params)
        return list(queryset)

    @staticmethod
    def _bind(compiled: _Compiled, values: dict[str, Any]) -> list[Any]:
        bound = list(compiled.params)
        for slot in compiled.slots:
            value = values[slot.name]
            bound[slot.position] = slot.adapt(
                value if slot.element is None else value[slot.element]
            )
        return bound

    def _verify(self, values: dict[str, Any], sql: str, params: tuple[Any, ...]) -> None:
        expected_sql, expected_params = self._compiler(self._build(**values), self._using).as_sql()
        if (expected_sql, tuple(expected_params)) != (sql, params):
            raise AssertionError(
                f"Prepared query differs from the ORM's for {values!r}:\n"
                f"{sql} {params!r}\n{expected_sql} {tuple(expected_params)!r}"
            )

    def first(self, **values: Any) -> T | None:
        """The first row, or None. ``build`` should already limit the query (``[:1]``)."""
        rows = self.all(**values)
        return rows[0] if rows else None

    def row(self, **values: Any) -> tuple[Any, ...] | None:
        """The first row of a ``values_list`` query as a tuple, or None — its columns in the
        order ``values_list`` names them, each converted as Django converts it — run on a plain
        cursor, without the queryset, the compiler or the row iterators (their Python costs
        more than executing a one-row lookup: measured on the questionnaire submit,
        bench/README.md). For a hot path that builds what it needs from the values itself
        (``Model.from_db``). No list parameters."""
        if any(isinstance(kind, ListOf) for kind in self._params.values()):
            raise TypeError("row() takes no list parameters.")
        if values.keys() != self._params.keys():
            raise TypeError(f"expected parameters {sorted(self._params)}, got {sorted(values)}")
        compiled = self._compiled(())
        if not compiled.plain_row:
            raise ImproperlyConfigured(
                "Prepared query: row() needs a values_list whose columns are selected in the "
                "order it names them (annotations last, in the order they were added)."
            )
        params = tuple(self._bind(compiled, values))
        if VERIFY:
            self._verify(values, compiled.sql, params)
        connection = connections[self._using]
        # On PostgreSQL a cursor kept for this statement (iptcare.core.db.postgresql).
        keep = getattr(connection, "statement_cursor", None)
        with keep(compiled.sql) if keep is not None else connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            found = cursor.fetchone()
        if found is None:
            return None
        converters = self._row_converters(compiled, connection)
        if not converters:
            return tuple(found)
        row = list(found)
        for position, (functions, expression) in converters.items():
            value = row[position]
            for convert in functions:
                value = convert(value, expression, connection)
            row[position] = value
        return tuple(row)

    def _row_converters(self, compiled: _Compiled, connection: Any) -> Any:
        cached = compiled.converters.get(connection)
        if cached is not None and not VERIFY:
            return cached[1]
        query = compiled.queryset.query
        compiler = connection.ops.compiler(query.compiler)(query, connection, self._using)
        columns = [column[0] for column in compiled.select[: compiled.col_count]]
        return _converters(compiled, compiler, connection, columns)

    # -- preparing -------------------------------------------------------------------------------

    def _compiled(self, lengths: tuple[int, ...]) -> _Compiled:
        alias = self._using
        key = (alias, connections[alias].vendor, timezone.get_current_timezone_name(), lengths)
        compiled = self._cache.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._cache.get(key) or self._prepare(alias, lengths)
                if len(self._cache) >= MAX_SHAPES:
                    self._cache.clear()  # many list lengths: start again rather than grow
                self._cache[key] = compiled
        return compiled

    def _prepare(self, alias: str, lengths: tuple[int, ...]) -> _Compiled:
        connection = connections[alias]
        names = list(self._params)
        length_of = iter(lengths)
        samples = {
            name: _samples(kind, i, next(length_of) if isinstance(kind, ListOf) else 1)
            for i, (name, kind) in enumerate(self._params.items())
        }
        first = {name: pair[0] for name, pair in samples.items()}
        built = self._sample(first)
        queryset = self._queryset(built)
        if queryset.db != alias:
            raise ImproperlyConfigured(f"Prepared query: built for {queryset.db!r}, not {alias!r}.")
        compiler = self._compiler(built, alias)
        sql, params = compiler.as_sql()
        params = tuple(params)
        slots: list[_Slot] = []
        seen: set[str] = set()
        for name in names:
            # Change one parameter at a time: the slots that move are that parameter's.
            other = dict(first) | {name: samples[name][1]}
            other_sql, other_params = self._compiler(self._build(**other), alias).as_sql()
            if other_sql != sql or len(other_params) != len(params):
                raise ImproperlyConfigured(
                    f"Prepared query: the value of {name!r} changes the shape of the SQL."
                )
            for position, (a, b) in enumerate(zip(params, other_params, strict=True)):
                if a == b:
                    continue
                found = _slot_for(connection, name, samples[name], (a, b), position)
                if found is None:
                    raise ImproperlyConfigured(
                        f"Prepared query: slot {position} is computed from {name!r}; "
                        "pass the computed value as a parameter of its own."
                    )
                slots.append(found)
                seen.add(name)
        unused = set(names) - seen
        if unused:
            raise ImproperlyConfigured(f"Prepared query: {sorted(unused)} never reach the SQL.")
        return _Compiled(
            queryset=queryset,
            sql=sql,
            params=params,
            slots=tuple(slots),
            select=compiler.select,
            klass_info=compiler.klass_info,
            annotation_col_map=compiler.annotation_col_map,
            # Set when a SELECT is compiled; an UPDATE's compiler has neither.
            col_count=getattr(compiler, "col_count", 0),
            has_extra_select=getattr(compiler, "has_extra_select", False),
            plain_row=_plain_row(queryset, compiler),
        )

    def _queryset(self, built: Any) -> QuerySet[Any]:
        """The queryset in what ``build`` returned."""
        return built

    def _compiler(self, built: Any, alias: str) -> Any:
        """The compiler whose SQL is prepared, for what ``build`` returned."""
        return built.query.get_compiler(using=alias)

    def _sample(self, values: dict[str, Any]) -> Any:
        try:
            return self._build(**values)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"Prepared query: cannot be built from sample values ({exc})."
            ) from exc


def _converters(compiled: _Compiled, compiler: Any, connection: Any, expressions: Any) -> Any:
    """``compiler.get_converters(expressions)``, worked out once per compiled query, connection
    and list of expressions (always ``compiled.select``'s when Django reads rows, so always the
    same). Checked against Django's own on every run in the test suite (``VERIFY``)."""
    key = tuple(map(id, expressions))
    cached = compiled.converters.get(connection)
    if cached is not None and cached[0] == key and not VERIFY:
        return cached[1]
    fresh = type(compiler).get_converters(compiler, expressions)
    if cached is not None and cached[0] == key and cached[1] != fresh:
        raise AssertionError(f"Prepared query: converters differ: {cached[1]!r} {fresh!r}")
    compiled.converters[connection] = (key, fresh)
    return fresh


def _plain_row(queryset: QuerySet[Any], compiler: Any) -> bool:
    """Whether a row of ``queryset`` is exactly its selected columns: a ``values_list``
    (not flat, not named) without extra columns, selecting one column per name it lists."""
    fields = getattr(queryset, "_fields", None)
    return (
        queryset._iterable_class is ValuesListIterable
        and bool(fields)
        and not getattr(compiler, "has_extra_select", False)
        and getattr(compiler, "col_count", -1) == len(fields or ())
    )


def _slot_for(
    connection: Any, name: str, samples: tuple[Any, Any], seen: tuple[Any, Any], position: int
) -> _Slot | None:
    if isinstance(samples[0], list):
        for element, pair in enumerate(zip(*samples, strict=True)):
            adapt = _adapter_for(connection, pair, seen)
            if adapt is not None:
                return _Slot(position, name, element, adapt)
        return None
    adapt = _adapter_for(connection, samples, seen)
    return None if adapt is None else _Slot(position, name, None, adapt)


def _adapter_for(
    connection: Any, samples: tuple[Any, Any], seen: Sequence[Any]
) -> Callable[[Any], Any] | None:
    for adapt in _adapters(connection):
        try:
            if adapt(samples[0]) == seen[0] and adapt(samples[1]) == seen[1]:
                return adapt
        except Exception:  # noqa: S112 - not this adapter (e.g. a UUID field given an int)
            continue
    return None


def prepared(
    build: Callable[..., QuerySet[Any]], *, using: str = "default", **params: type | ListOf
) -> PreparedQuery[Any]:
    """Declare a prepared query: ``build`` takes the named parameters and returns a queryset."""
    for kind in params.values():
        _samples(kind, 0)  # refuse unsupported parameter types at import time
    return PreparedQuery(build, params, using)


class PreparedUpdate(PreparedQuery[Any]):
    """An UPDATE of fixed shape, prepared as a query is (module docstring): ``build`` returns
    ``(queryset, values)`` for ``queryset.update(**values)``, and ``execute(**params)`` runs it
    and returns the number of rows changed. Plain values only (no expressions, no related
    updates), and no list parameters."""

    def _queryset(self, built: Any) -> QuerySet[Any]:
        return built[0]

    def _compiler(self, built: Any, alias: str) -> Any:
        queryset, values = built
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(values)
        if query.related_updates:
            raise ImproperlyConfigured("Prepared update: it may change its own table only.")
        query.annotations = {}
        return query.get_compiler(using=alias)

    def all(self, **values: Any) -> list[Any]:
        raise TypeError("A prepared update is run with execute().")

    def execute(self, **values: Any) -> int:
        if values.keys() != self._params.keys():
            raise TypeError(f"expected parameters {sorted(self._params)}, got {sorted(values)}")
        compiled = self._compiled(())
        params = tuple(self._bind(compiled, values))
        if VERIFY:
            self._verify(values, compiled.sql, params)
        with connections[self._using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return int(cursor.rowcount)


def prepared_update(
    build: Callable[..., tuple[QuerySet[Any], dict[str, Any]]],
    *,
    using: str = "default",
    **params: type,
) -> PreparedUpdate:
    """Declare a prepared UPDATE: ``build`` takes the named parameters and returns the queryset
    and the values to set, as for ``queryset.update(**values)``."""
    for kind in params.values():
        if isinstance(kind, ListOf):
            raise ImproperlyConfigured("A prepared update takes no list parameters.")
        _samples(kind, 0)
    return PreparedUpdate(build, params, using)
