"""SQLite's WAL checkpoints run after the writer lock is released (iptcare.core.db.sqlite3)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iptcare.core.db.sqlite3 import base as sqlite_backend
from iptcare.core.db.sqlite3.base import (
    AUTOCHECKPOINT_PAGES,
    CHECKPOINT_EVERY,
    CHECKPOINT_SECONDS,
    DatabaseWrapper,
)
from tests.helpers import scratch_sqlite, writelock_is_free


@pytest.fixture
def wal_wrapper(tmp_path: Path, django_db_blocker: Any) -> Iterator[DatabaseWrapper]:
    """A connection of our backend to a scratch WAL database, as the app configures it."""
    django_db_blocker.unblock()  # a connection of its own, outside pytest-django's test DB
    wrapper = scratch_sqlite(
        tmp_path / "wal.sqlite3",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    )
    yield wrapper
    wrapper.close()
    django_db_blocker.restore()


def _commit_rows(wrapper: DatabaseWrapper, count: int) -> None:
    for n in range(count):
        wrapper._start_transaction_under_autocommit()
        with wrapper.cursor() as cursor:
            cursor.execute("INSERT INTO t (v) VALUES (%s)", [f"row {n} " + "x" * 3000])
        wrapper.commit()


def test_sqlite_runs_its_own_checkpoint_only_past_a_large_log(wal_wrapper: DatabaseWrapper) -> None:
    with wal_wrapper.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == AUTOCHECKPOINT_PAGES
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_a_checkpoint_runs_every_n_commits_after_the_writer_lock_is_released(
    wal_wrapper: DatabaseWrapper,
) -> None:
    lock = f"{wal_wrapper.settings_dict['NAME']}.writelock"
    wal_wrapper.ensure_connection()
    seen: list[bool] = []

    def trace(statement: str) -> None:
        if statement.startswith("PRAGMA wal_checkpoint"):
            seen.append(writelock_is_free(lock))

    raw = wal_wrapper.connection
    assert raw is not None
    raw.set_trace_callback(trace)
    _commit_rows(wal_wrapper, CHECKPOINT_EVERY - 1)
    assert seen == []
    _commit_rows(wal_wrapper, 1)
    assert seen == [True], "one checkpoint, with no writer lock held"
    _commit_rows(wal_wrapper, 2 * CHECKPOINT_EVERY)
    assert seen == [True, True, True]


def test_the_checkpoint_copies_the_log_into_the_database_file(
    wal_wrapper: DatabaseWrapper,
) -> None:
    database = str(wal_wrapper.settings_dict["NAME"])
    empty = os.path.getsize(database)
    _commit_rows(wal_wrapper, CHECKPOINT_EVERY - 1)
    # About 3 kB a row: every committed page is still only in the log (SQLite's own
    # checkpoint waits for AUTOCHECKPOINT_PAGES).
    assert os.path.getsize(database) == empty
    _commit_rows(wal_wrapper, 1)
    assert os.path.getsize(database) > empty + (CHECKPOINT_EVERY - 1) * 3000


def test_a_failed_checkpoint_loses_nothing_and_the_commit_stands(
    wal_wrapper: DatabaseWrapper, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sqlite_backend, "CHECKPOINT_EVERY", 1)
    wal_wrapper.ensure_connection()
    raw = wal_wrapper.connection
    assert raw is not None

    refused: list[str] = []

    def refuse(action: int, *args: Any) -> int:
        # The checkpoint pragma is refused at prepare time: SQLite raises DatabaseError.
        if action == sqlite3.SQLITE_PRAGMA and args[0] == "wal_checkpoint":
            refused.append(str(args[1]))
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    raw.set_authorizer(refuse)
    _commit_rows(wal_wrapper, 3)
    raw.set_authorizer(None)
    assert refused == ["PASSIVE"] * 3, "a checkpoint was tried after each commit"
    assert caplog.text.count("WAL checkpoint failed") == 3
    with wal_wrapper.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        assert cursor.fetchone()[0] == 3
    assert writelock_is_free(f"{wal_wrapper.settings_dict['NAME']}.writelock")


def test_the_count_survives_reconnecting_as_conn_max_age_does(
    wal_wrapper: DatabaseWrapper,
) -> None:
    """Connections are closed and opened again (CONN_MAX_AGE, 0 included): the checkpoint still
    comes with the CHECKPOINT_EVERY-th commit of the process, not of one connection."""
    database = str(wal_wrapper.settings_dict["NAME"])
    empty = os.path.getsize(database)
    # Another connection stays open, as other workers' do: closing ours is then not the last
    # close, which SQLite would end with a checkpoint of its own.
    other = sqlite3.connect(database)
    try:
        other.execute("SELECT count(*) FROM t").fetchall()
        for _ in range(CHECKPOINT_EVERY - 1):
            _commit_rows(wal_wrapper, 1)
            wal_wrapper.close()
        assert os.path.getsize(database) == empty
        _commit_rows(wal_wrapper, 1)
        assert os.path.getsize(database) > empty + (CHECKPOINT_EVERY - 1) * 3000
    finally:
        other.close()


def test_a_process_that_writes_little_still_checkpoints_after_a_while(
    wal_wrapper: DatabaseWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(sqlite_backend, "_now", lambda: clock[0])
    database = str(wal_wrapper.settings_dict["NAME"])
    empty = os.path.getsize(database)
    _commit_rows(wal_wrapper, 2)
    clock[0] += CHECKPOINT_SECONDS - 1
    _commit_rows(wal_wrapper, 1)
    assert os.path.getsize(database) == empty, "3 commits within the interval: not yet"
    clock[0] += 1
    _commit_rows(wal_wrapper, 1)
    assert os.path.getsize(database) > empty + 3 * 3000
