"""SQLite with a blocking writer queue.

SQLite allows one writer at a time. When ``BEGIN IMMEDIATE`` finds the write lock taken, its busy
handler *sleeps and retries* with growing pauses (1, 2, 5, 10, ... up to 100 ms), so under
concurrent writers — every audited page is one — the lock often sits free while waiters sleep,
and latency grows far beyond the work done under the lock.

This backend puts an exclusive ``flock`` on ``<database file>.writelock`` before ``BEGIN
IMMEDIATE`` and drops it after ``COMMIT`` or ``ROLLBACK``. Waiters block in the kernel and are
woken the moment the lock is released: the same serialisation SQLite enforces anyway, without the
idle gaps. Each connection opens its own descriptor, so the lock orders threads of one process as
well as separate processes (gunicorn workers, management commands). SQLite's own locking still
applies underneath; this only decides who asks first. See docs/adr/0005-audit-write-path.md.

Checkpoints run outside that lock. In WAL mode SQLite copies the log back into the database
(a checkpoint) inside the ``COMMIT`` that takes the log past 1,000 pages: megabytes written and
two fsyncs while this backend still holds the writer lock, so every other writer waits behind
it (about one commit in twenty in the submit benchmark, each holding the lock 5 to 140 ms: a
quarter of all lock time). So a passive checkpoint is run here instead, after ``COMMIT`` has
released the lock, by the commit that is the ``CHECKPOINT_EVERY``-th of this process on this
database since the last one, or the first one ``CHECKPOINT_SECONDS`` after it (so a process that
writes little still checkpoints; the count is per process, not per connection, because
connections are closed and reopened every ``CONN_MAX_AGE``). SQLite's automatic checkpoint stays
on with a larger threshold (``AUTOCHECKPOINT_PAGES``), as a backstop for writes that never pass
through ``COMMIT`` here. A passive checkpoint never waits for a writer or a reader and copies
only what no reader still needs; SQLite lets one run at a time and the others return at once.
(The log's size is deliberately not read from ``<database>-shm``: opening and closing that file
in a process drops every POSIX lock SQLite holds on it there, and the next connection elsewhere
would rebuild the shared index under the others — seen as SIGBUS.)

The log is made durable after the lock is released, not under it (ADR 0005, 2026-11-28). With
``synchronous=FULL`` SQLite fsyncs the log inside ``COMMIT``, while this backend holds the
writer lock; under load the holder then also waits for a CPU after the fsync, and the lock was
held twice as long as alone (bench/README.md). So a transaction of this backend commits with
``synchronous=NORMAL`` (the log is written, not synced) and the committing connection then
fsyncs the log file itself, after dropping the writer lock and before ``commit()`` returns:
the caller — and so whoever the request answers — hears of a commit only once it is on disk,
as before (early lock release). The next writer meanwhile writes its own pages; the log is one
file written in order, so a sync covers every commit before it. ``synchronous`` is FULL again
as soon as the transaction ends (after the ROLLBACK that follows a failed COMMIT too; a
connection where it cannot be restored is closed), so autocommit statements are synced by
SQLite as before. The log is the one beside the file SQLite opened (``PRAGMA database_list``,
links resolved); not finding it is an error, never a silent success. A failed fsync raises and
stops every writer of every process (``<database>.sync-failed``, docs/configuration.md): the
commit is already visible, and later commits must not be written after pages the disk may have
dropped. What changes, by decision: another connection may *read* a commit for up to one fsync
before it is durable; a crash in that instant loses a write whose author was never told it
succeeded, and a reader may have seen it. SQLite holds no lock on the log file, so opening and
closing a descriptor on it is safe (unlike ``-shm``, below); while the connection is open SQLite
keeps its shared lock on the database, so the log is not deleted under the descriptor, which is
checked against the file on every commit all the same.

It also makes ``bulk_create(ignore_conflicts=True)`` ignore uniqueness conflicts only, as on
PostgreSQL (``DatabaseOperations`` below), remembers each statement's conversion to SQLite's
parameter style (``CursorWrapper``), and answers ``__date`` lookups without a time zone
conversion from the stored text (``datetime_cast_date``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db.backends.sqlite3 import (  # type: ignore[attr-defined]  # no stubs for _functions
    _functions,
    base,
    creation,
    operations,
)
from django.db.models.constants import OnConflict
from django.db.utils import OperationalError

logger = logging.getLogger(__name__)


# A timestamp as Django writes it to SQLite (``str(datetime)``, naive, in the connection's zone).
_STORED_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?")


def datetime_cast_date(dt: Any, tzname: str | None, conn_tzname: str | None) -> str | None:
    """Django's SQL function ``django_datetime_cast_date`` (a ``__date`` lookup), the same
    answers. When no conversion between zones is asked (both zones UTC: always, with the
    default ``TIME_ZONE``), the date of a timestamp Django wrote is the date it was written
    with, once it parses; anything else goes to Django's own function. The
    function runs once per row compared (the appointments of a client, on every questionnaire
    submit), and Django's builds and converts an aware datetime each time."""
    if tzname == conn_tzname == "UTC" and type(dt) is str and _STORED_TIMESTAMP.fullmatch(dt):
        try:
            return datetime.fromisoformat(dt).date().isoformat()
        except ValueError:
            pass  # not a real date or time: Django's function decides (None)
    result: str | None = _functions._sqlite_datetime_cast_date(dt, tzname, conn_tzname)
    return result


class DatabaseOperations(operations.DatabaseOperations):
    """``bulk_create(ignore_conflicts=True)`` skips rows that break a *uniqueness* constraint
    only, as it does on PostgreSQL (``ON CONFLICT DO NOTHING``). Django's SQLite backend writes
    ``INSERT OR IGNORE``, which also silently drops rows that break NOT NULL or CHECK
    constraints: a bug would lose a row without an error. SQLite's upsert clause without a
    conflict target covers every uniqueness constraint, partial unique indexes included."""

    def insert_statement(self, on_conflict: Any = None) -> str:
        if on_conflict == OnConflict.IGNORE:
            return "INSERT INTO"
        return str(super().insert_statement(on_conflict=on_conflict))

    def on_conflict_suffix_sql(
        self, fields: Any, on_conflict: Any, update_fields: Any, unique_fields: Any
    ) -> str:
        if on_conflict == OnConflict.IGNORE:
            return "ON CONFLICT DO NOTHING"
        return str(
            super().on_conflict_suffix_sql(fields, on_conflict, update_fields, unique_fields)
        )


@lru_cache(maxsize=2048)
def _qmark(query: str) -> str:
    """Django's "format" to SQLite's "qmark" parameter style, as ``SQLiteCursorWrapper`` does."""
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


# Statements that never write, as a statement outside a transaction begins.
_READS = ("SELECT", "PRAGMA", "EXPLAIN")


class CursorWrapper(base.SQLiteCursorWrapper):
    """Django's cursor, converting each distinct statement's parameter style once.

    Django rewrites every ``%s`` to ``?`` with a regular expression on every execution; the hot
    paths run the same few statements (prepared queries, ``iptcare.core.db.prepared``), some of
    them long, on every request, and under the writer lock. Statements without parameters and
    with named ("pyformat") parameters take Django's own path unchanged."""

    # Set by ``DatabaseWrapper.create_cursor``: whether a failed log sync stopped writes.
    writes_refused: Any = None

    def execute(self, query: str, params: Any = None) -> Any:
        if (
            self.writes_refused is not None
            and not self.connection.in_transaction
            and not query.lstrip()[:7].upper().startswith(_READS)
            and self.writes_refused()
        ):
            # An autocommit write (or a BEGIN) after a failed sync: refused like a transaction.
            raise OperationalError("writes are refused: a sync of the database log failed")
        if params is None:
            return sqlite3.Cursor.execute(self, query)
        if isinstance(params, Mapping):
            return super().execute(query, params)
        return sqlite3.Cursor.execute(self, _qmark(query), params)


class DatabaseCreation(creation.DatabaseCreation):
    def _destroy_test_db(self, test_database_name: str, verbosity: int) -> None:
        super()._destroy_test_db(test_database_name, verbosity)  # type: ignore[misc]
        if test_database_name and not self.is_in_memory_db(test_database_name):
            lock = f"{test_database_name}.writelock"
            if os.path.exists(lock):
                os.remove(lock)


# When a commit runs the passive checkpoint (module docstring): the CHECKPOINT_EVERY-th commit of
# this process on the database since the last checkpoint, or the first CHECKPOINT_SECONDS after
# it. With 2 workers at the 20-30 pages of a questionnaire submit, about SQLite's default of
# 1,000 pages per checkpoint; more often with more workers, each copying less.
CHECKPOINT_EVERY = 100
CHECKPOINT_SECONDS = 30.0
# PRAGMA synchronous levels.
NORMAL, FULL = 1, 2
# SQLite's automatic checkpoint, still run inside COMMIT, only past this many pages of log.
AUTOCHECKPOINT_PAGES = 4_000


def _now() -> float:
    return time.monotonic()


@dataclass
class _CheckpointClock:
    commits: int = 0
    last: float = field(default_factory=lambda: _now())


_checkpoint_clocks: dict[str, _CheckpointClock] = {}
# Markers this process failed to create after a failed log sync: it stops writing all the same.
_sync_failed: set[str] = set()
_checkpoint_lock = threading.Lock()


def checkpoint_due(database: str) -> bool:
    """Count a commit on ``database`` (a file path) in this process; True when it should run the
    passive checkpoint (see the constants above)."""
    with _checkpoint_lock:
        clock = _checkpoint_clocks.setdefault(database, _CheckpointClock())
        clock.commits += 1
        now = _now()
        if clock.commits < CHECKPOINT_EVERY and now - clock.last < CHECKPOINT_SECONDS:
            return False
        clock.commits, clock.last = 0, now
        return True


class DatabaseWrapper(base.DatabaseWrapper):
    # django-stubs does not declare the private transaction hooks overridden here.
    creation_class = DatabaseCreation
    ops_class = DatabaseOperations

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writelock_fd: int | None = None
        self._writelock_held = False
        self._wal_fd: int | None = None
        self._wal_mode = False
        self._log_path: str | None = None
        self._db_file: str | None = None
        self._sync_lowered = False  # synchronous=NORMAL set by this backend, not yet restored

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=CursorWrapper)
        if self._log_path is not None:
            cursor.writes_refused = self.writes_refused
        return cursor

    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        connection.create_function(
            "django_datetime_cast_date", 3, datetime_cast_date, deterministic=True
        )
        if self._writelock_path() is not None:
            connection.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        # Checked once: the log is synced after the lock only where there is a log (module
        # docstring) and where the connection was asked for FULL durability in the first place.
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        sync = connection.execute("PRAGMA synchronous").fetchone()[0]
        self._wal_mode = (
            self._writelock_path() is not None and str(mode).lower() == "wal" and sync == FULL
        )
        # The log lies beside the database file SQLite opened, links resolved (not NAME).
        files = {name: path for _, name, path in connection.execute("PRAGMA database_list")}
        self._db_file = files["main"] if self._wal_mode else None
        self._log_path = f"{files['main']}-wal" if self._wal_mode else None
        return connection

    def _flush_log(self) -> None:
        """fsync the log file (module docstring): every transaction committed to it so far,
        this connection's included, is on disk when this returns. Any failure raises; a failed
        fsync also stops every writer (``_refuse_writes_after_failed_sync``)."""
        path = self._log_path
        if path is None:
            raise OperationalError("the database log was not found")
        try:
            if self._wal_fd is not None and os.fstat(self._wal_fd).st_ino != os.stat(path).st_ino:
                self._close_log()  # no longer the log SQLite writes
            if self._wal_fd is None:
                self._wal_fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            # While this connection is open SQLite keeps the log; missing means something is
            # wrong, so the commit is not reported as durable.
            raise OperationalError(f"the database log could not be opened: {exc}") from exc
        try:
            os.fsync(self._wal_fd)
        except OSError as exc:
            self._refuse_writes_after_failed_sync(exc)
            raise OperationalError(f"the database log could not be synced: {exc}") from exc

    def _sync_failed_path(self) -> str:
        # Beside the file SQLite opened (links resolved), so every process finds the same one.
        return f"{self._db_file or self.settings_dict['NAME']}.sync-failed"

    def _refuse_writes_after_failed_sync(self, exc: OSError) -> None:
        """After a failed fsync the commit is already visible to other connections, and Linux
        may have dropped the pages it could not write: later commits would be written after a
        hole in the log, and be lost with it in a crash. So every writer of every process stops
        (fail-stop, as PostgreSQL does after a failed fsync): a marker beside the database
        refuses every transaction of this backend until an operator has checked the disk and
        removed it (docs/configuration.md)."""
        logger.critical("fsync of the SQLite log failed; writes are refused: %s", exc)
        path = self._sync_failed_path()
        note = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {exc}\n".encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError:
            # This process stops all the same (until it is restarted); others cannot be told.
            _sync_failed.add(path)
            logger.critical("could not create %s: only this process stops writing", path)
            return
        try:
            os.write(fd, note)
        except OSError:
            pass  # the marker exists, which is what stops the writers
        finally:
            os.close(fd)

    def writes_refused(self) -> bool:
        """Whether a failed sync of the log has stopped every writer (the health check says)."""
        if self._log_path is None:
            return False
        path = self._sync_failed_path()
        return path in _sync_failed or os.path.exists(path)

    def _close_log(self) -> None:
        if self._wal_fd is not None:
            fd, self._wal_fd = self._wal_fd, None
            os.close(fd)

    def _checkpoint_if_due(self) -> None:
        """The passive checkpoint, with the writer lock free, when ``checkpoint_due``. Never
        raises: a failed checkpoint is retried later and loses nothing (the log keeps every
        committed page until it is copied)."""
        database = str(self.settings_dict.get("NAME") or "")
        if self.connection is None or not checkpoint_due(database):
            return
        try:
            self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            logger.warning("WAL checkpoint failed; retried after later commits", exc_info=True)

    def _writelock_path(self) -> str | None:
        name = str(self.settings_dict.get("NAME") or "")
        if not name or self.is_in_memory_db():
            return None
        return f"{name}.writelock"

    def _acquire_writelock(self) -> None:
        if self._writelock_held:
            return
        if self._writelock_fd is None:
            path = self._writelock_path()
            if path is None:
                return
            self._writelock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._writelock_fd, fcntl.LOCK_EX)  # blocks without holding the GIL
        self._writelock_held = True

    def _release_writelock(self) -> None:
        if self._writelock_held and self._writelock_fd is not None:
            fcntl.flock(self._writelock_fd, fcntl.LOCK_UN)
        self._writelock_held = False

    def _lower_sync(self) -> None:
        """NORMAL for this transaction: its log is synced by ``_commit``, after the lock."""
        assert self.connection is not None
        if self.writes_refused():
            raise OperationalError(
                "writes are refused: a sync of the database log failed earlier (see "
                f"{self._sync_failed_path()} and docs/configuration.md)"
            )
        self.connection.execute(f"PRAGMA synchronous={NORMAL}")
        self._sync_lowered = True

    def _restore_sync(self) -> None:
        """FULL again, once no transaction is open (SQLite refuses the change inside one). If
        it cannot be restored, the connection is closed: it must not write on at NORMAL."""
        if not self._sync_lowered or self.connection is None:
            return
        if self.connection.in_transaction:
            return  # a failed COMMIT leaves it open: the ROLLBACK that follows restores
        try:
            self.connection.execute(f"PRAGMA synchronous={FULL}")
        except sqlite3.Error as exc:
            connection, self.connection = self.connection, None
            self._sync_lowered = False
            self._close_log()
            with suppress(sqlite3.Error):
                connection.close()
            raise OperationalError(f"could not restore synchronous=FULL: {exc}") from exc
        self._sync_lowered = False

    def _start_transaction_under_autocommit(self) -> None:
        self.ensure_connection()  # before deciding on the sync mode, which is per connection
        self._acquire_writelock()
        try:
            if self._wal_mode and self._writelock_held:
                with self.wrap_database_errors:
                    self._lower_sync()
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release_writelock()
            self._restore_sync()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        except BaseException:
            self._release_writelock()  # the ROLLBACK that follows restores FULL
            raise
        held = self._writelock_held
        try:
            self._release_writelock()
            if self._sync_lowered:
                self._flush_log()
        finally:
            self._restore_sync()
        if held:
            self._checkpoint_if_due()

    def _set_autocommit(self, autocommit: bool) -> None:
        """Django's ``Atomic`` turns autocommit back on in its ``finally``, after an exception
        other than a database error out of COMMIT too, with the transaction still open: Python's
        sqlite3 would then commit it silently — unsynced. Roll it back first (it was never
        reported as committed), then restore FULL."""
        lowered_and_open = (
            autocommit
            and self._sync_lowered
            and self.connection is not None
            and self.connection.in_transaction
        )
        if lowered_and_open:
            with suppress(sqlite3.Error):
                self.connection.rollback()
            self._release_writelock()
        super()._set_autocommit(autocommit)  # type: ignore[misc]
        if autocommit:
            self._restore_sync()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._release_writelock()
            self._restore_sync()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._release_writelock()
            self._close_log()
            self._sync_lowered = False  # a new connection starts at FULL (init_command)
            self._db_file = self._log_path = None
            if self._writelock_fd is not None:
                os.close(self._writelock_fd)
                self._writelock_fd = None
