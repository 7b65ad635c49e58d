"""A transaction of the SQLite backend is on disk before ``commit()`` returns, and its log is
synced after the writer lock is released, not under it (ADR 0005, iptcare.core.db.sqlite3)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.utils import OperationalError

from iptcare.core.db.sqlite3 import base as sqlite_backend
from iptcare.core.db.sqlite3.base import DatabaseWrapper
from tests.helpers import scratch_sqlite, writelock_is_free


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "durable.sqlite3"


@pytest.fixture
def wrapper(db_path: Path, django_db_blocker: Any) -> Iterator[DatabaseWrapper]:
    """Our backend on a scratch WAL database, configured as the app configures it."""
    django_db_blocker.unblock()
    wrapper = scratch_sqlite(
        db_path, init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    )
    yield wrapper
    wrapper.close()
    django_db_blocker.restore()


def _synchronous(wrapper: DatabaseWrapper) -> int:
    assert wrapper.connection is not None
    return int(wrapper.connection.execute("PRAGMA synchronous").fetchone()[0])


def _insert(wrapper: DatabaseWrapper, value: str) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("INSERT INTO t (v) VALUES (%s)", [value])


def _rows(db_path: Path) -> list[str]:
    other = sqlite3.connect(db_path)
    try:
        return [v for (v,) in other.execute("SELECT v FROM t ORDER BY id")]
    finally:
        other.close()


def test_the_log_is_synced_after_the_lock_is_released_and_before_commit_returns(
    wrapper: DatabaseWrapper, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, bool, list[str]]] = []
    fsync = os.fsync

    def spy(fd: int) -> None:
        seen.append(
            (os.fstat(fd).st_ino, writelock_is_free(f"{db_path}.writelock"), _rows(db_path))
        )
        fsync(fd)

    monkeypatch.setattr(sqlite_backend.os, "fsync", spy)
    wrapper._start_transaction_under_autocommit()
    assert _synchronous(wrapper) == sqlite_backend.NORMAL  # COMMIT itself will not sync
    _insert(wrapper, "first")
    assert seen == []
    wrapper.commit()
    wal = os.stat(f"{db_path}-wal").st_ino
    # One fsync, of the log file, with the lock already free and the row committed.
    assert seen == [(wal, True, ["first"])]
    assert _synchronous(wrapper) == sqlite_backend.FULL


def test_a_rollback_syncs_nothing_and_restores_full_durability(
    wrapper: DatabaseWrapper, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(sqlite_backend.os, "fsync", synced.append)
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "never")
    wrapper.rollback()
    assert synced == [] and _rows(db_path) == []
    assert _synchronous(wrapper) == sqlite_backend.FULL
    assert writelock_is_free(f"{db_path}.writelock")


def test_writes_outside_a_transaction_keep_sqlites_own_full_sync(
    wrapper: DatabaseWrapper, db_path: Path
) -> None:
    assert _synchronous(wrapper) == sqlite_backend.FULL
    _insert(wrapper, "autocommit")  # SQLite syncs it inside the statement, as before
    assert _rows(db_path) == ["autocommit"]
    assert _synchronous(wrapper) == sqlite_backend.FULL


def test_a_failed_sync_is_an_error_from_commit(
    wrapper: DatabaseWrapper, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is reported as saved that may not be on disk: the caller's commit raises."""

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(sqlite_backend.os, "fsync", failing)
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "unsure")
    with pytest.raises(OperationalError, match="could not be synced"):
        wrapper.commit()
    assert writelock_is_free(f"{db_path}.writelock")
    assert _synchronous(wrapper) == sqlite_backend.FULL


def test_a_replaced_log_file_is_opened_again(
    wrapper: DatabaseWrapper, db_path: Path, tmp_path: Path
) -> None:
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "one")
    wrapper.commit()
    stale = os.open(tmp_path / "stale", os.O_RDWR | os.O_CREAT)
    assert wrapper._wal_fd is not None
    os.close(wrapper._wal_fd)
    wrapper._wal_fd = stale  # as if the log had been deleted and made again
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "two")
    wrapper.commit()
    assert (
        wrapper._wal_fd != stale
        or os.fstat(wrapper._wal_fd).st_ino != os.stat(tmp_path / "stale").st_ino
    )
    assert os.fstat(wrapper._wal_fd).st_ino == os.stat(f"{db_path}-wal").st_ino
    assert _rows(db_path) == ["one", "two"]


def test_closing_the_connection_closes_the_log_descriptor(wrapper: DatabaseWrapper) -> None:
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "x")
    wrapper.commit()
    fd = wrapper._wal_fd
    assert fd is not None
    wrapper.close()
    assert wrapper._wal_fd is None
    with pytest.raises(OSError):
        os.fstat(fd)


def test_sqlite_holds_no_lock_on_the_log_file(wrapper: DatabaseWrapper, db_path: Path) -> None:
    """The assumption that makes a descriptor of our own on the log safe to close: closing any
    descriptor of a file drops the POSIX locks the process holds on it (which is why ``-shm`` is
    never opened), and SQLite takes none on the log — while it does hold them on the database
    and ``-shm`` files."""
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "x")
    inodes = {os.stat(f"{db_path}{suffix}").st_ino: suffix for suffix in ("", "-wal", "-shm")}
    locked: set[str] = set()
    with open("/proc/locks") as locks:
        for line in locks:
            fields = line.split()
            if fields[1] == "POSIX" and fields[4] == str(os.getpid()):
                inode = int(fields[5].split(":")[2])
                if inode in inodes:
                    locked.add(inodes[inode] or "database")
    wrapper.commit()
    assert "-wal" not in locked
    assert {"database", "-shm"} <= locked  # the check sees SQLite's locks where they are
