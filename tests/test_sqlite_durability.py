"""A transaction of the SQLite backend is on disk before ``commit()`` returns, and its log is
synced after the writer lock is released, not under it (ADR 0005, iptcare.core.db.sqlite3)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.utils import IntegrityError, OperationalError

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
    wrapper = scratch_sqlite(db_path, init_command=WAL_FULL)
    yield wrapper
    wrapper.close()
    django_db_blocker.restore()


@pytest.fixture
def linked(tmp_path: Path, django_db_blocker: Any) -> Iterator[tuple[Path, DatabaseWrapper]]:
    """A database file reached through a symlink: (the real file, our backend on the link)."""
    real = tmp_path / "real" / "db.sqlite3"
    real.parent.mkdir()
    link = tmp_path / "link.sqlite3"
    sqlite3.connect(real).close()
    link.symlink_to(real)
    django_db_blocker.unblock()
    wrapper = scratch_sqlite(link, init_command=WAL_FULL)
    yield real, wrapper
    wrapper.close()
    django_db_blocker.restore()


WAL_FULL = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"


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


def test_a_failed_sync_is_an_error_from_commit_and_stops_every_writer(
    wrapper: DatabaseWrapper, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is reported as saved that may not be on disk: the caller's commit raises. The
    commit is already visible (the log was written, only its sync failed), so no later write
    may be added after it: every transaction is refused until an operator removes the marker
    (docs/configuration.md)."""

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(sqlite_backend.os, "fsync", failing)
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "unsure")
    with pytest.raises(OperationalError, match="could not be synced"):
        wrapper.commit()
    assert writelock_is_free(f"{db_path}.writelock")
    assert _synchronous(wrapper) == sqlite_backend.FULL
    assert _rows(db_path) == ["unsure"]  # visible, which is why writers stop
    marker = Path(f"{db_path}.sync-failed")
    assert "Input/output error" in marker.read_text() and wrapper.writes_refused()

    monkeypatch.undo()
    with pytest.raises(OperationalError, match="writes are refused"):
        wrapper._start_transaction_under_autocommit()
    assert writelock_is_free(f"{db_path}.writelock")
    assert _synchronous(wrapper) == sqlite_backend.FULL
    marker.unlink()  # the operator has checked the disk
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "after the check")
    wrapper.commit()
    assert _rows(db_path) == ["unsure", "after the check"] and not wrapper.writes_refused()


def test_a_commit_that_fails_in_sqlite_leaves_full_durability_after_its_rollback(
    wrapper: DatabaseWrapper, db_path: Path
) -> None:
    """Django's foreign keys are checked at COMMIT (deferred): a COMMIT that fails leaves the
    transaction open, where SQLite refuses to change ``synchronous``; the ROLLBACK that follows
    must put FULL back, or later autocommit writes would go unsynced."""
    with wrapper.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t (id) "
            "DEFERRABLE INITIALLY DEFERRED)"
        )
    wrapper._start_transaction_under_autocommit()
    with wrapper.cursor() as cursor:
        cursor.execute("INSERT INTO child (t_id) VALUES (%s)", [999])  # no such row in t
    with pytest.raises(IntegrityError):
        wrapper.commit()
    assert writelock_is_free(f"{db_path}.writelock")
    wrapper.rollback()
    assert _synchronous(wrapper) == sqlite_backend.FULL
    _insert(wrapper, "autocommit")
    assert _rows(db_path) == ["autocommit"] and _synchronous(wrapper) == sqlite_backend.FULL


def test_the_log_of_a_database_reached_through_a_symlink_is_the_one_synced(
    linked: tuple[Path, DatabaseWrapper], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite resolves links and writes its log beside the real file, not beside NAME."""
    real, wrapper = linked
    synced: list[int] = []
    fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        fsync(fd)

    monkeypatch.setattr(sqlite_backend.os, "fsync", spy)
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "through the link")
    wrapper.commit()
    assert synced == [os.stat(f"{real}-wal").st_ino]
    assert not Path(f"{wrapper.settings_dict['NAME']}-wal").exists()


def test_a_descriptor_that_no_longer_names_the_log_is_opened_again(
    wrapper: DatabaseWrapper, db_path: Path, tmp_path: Path
) -> None:
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "one")
    wrapper.commit()
    stale = os.open(tmp_path / "stale", os.O_RDWR | os.O_CREAT)
    assert wrapper._wal_fd is not None
    os.close(wrapper._wal_fd)
    wrapper._wal_fd = stale  # a descriptor of another file
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "two")
    wrapper.commit()
    assert wrapper._wal_fd is not None
    assert os.fstat(wrapper._wal_fd).st_ino == os.stat(f"{db_path}-wal").st_ino
    assert _rows(db_path) == ["one", "two"]


def test_a_log_that_cannot_be_found_is_an_error_not_a_silent_success(
    wrapper: DatabaseWrapper, tmp_path: Path
) -> None:
    wrapper._start_transaction_under_autocommit()
    wrapper._log_path = str(tmp_path / "elsewhere-wal")  # as a wrong path would be
    _insert(wrapper, "x")
    with pytest.raises(OperationalError, match="could not be opened"):
        wrapper.commit()
    assert _synchronous(wrapper) == sqlite_backend.FULL


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


def _fail_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(sqlite_backend.os, "fsync", failing)


def test_after_a_failed_sync_autocommit_writes_are_refused_and_reads_go_on(
    wrapper: DatabaseWrapper, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert(wrapper, "before")
    _fail_sync(monkeypatch)
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "unsure")
    with pytest.raises(OperationalError):
        wrapper.commit()
    monkeypatch.undo()
    with pytest.raises(OperationalError, match="writes are refused"):
        _insert(wrapper, "autocommit")  # outside any transaction: SQLite would sync it itself
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t WHERE v LIKE %s", ["%"])
        assert cursor.fetchone() == (2,)
    Path(f"{db_path}.sync-failed").unlink()
    _insert(wrapper, "after the check")
    assert _rows(db_path) == ["before", "unsure", "after the check"]


def test_a_process_that_cannot_write_the_marker_still_stops_itself(
    wrapper: DatabaseWrapper, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_sync(monkeypatch)
    real_open = os.open

    def no_marker(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith(".sync-failed"):
            raise OSError(30, "Read-only file system")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(sqlite_backend.os, "open", no_marker)
    wrapper._start_transaction_under_autocommit()
    _insert(wrapper, "unsure")
    try:
        with pytest.raises(OperationalError):
            wrapper.commit()
        assert not Path(f"{db_path}.sync-failed").exists() and wrapper.writes_refused()
        with pytest.raises(OperationalError, match="writes are refused"):
            wrapper._start_transaction_under_autocommit()
    finally:
        sqlite_backend._sync_failed.clear()  # as a restart of the process does


def test_the_marker_lies_beside_the_real_file_for_every_path_to_it(
    linked: tuple[Path, DatabaseWrapper], monkeypatch: pytest.MonkeyPatch
) -> None:
    real, through_link = linked
    direct = sqlite_backend.DatabaseWrapper(
        {**through_link.settings_dict, "NAME": str(real)}, alias="direct"
    )
    try:
        _fail_sync(monkeypatch)
        through_link._start_transaction_under_autocommit()
        _insert(through_link, "unsure")
        with pytest.raises(OperationalError):
            through_link.commit()
        assert Path(f"{real}.sync-failed").exists()
        direct.ensure_connection()
        assert direct.writes_refused()  # a process that opened the real path sees it
    finally:
        direct.close()


def test_an_interrupted_commit_is_rolled_back_unsynced_never_committed_silently(
    wrapper: DatabaseWrapper, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception other than a database error out of COMMIT (KeyboardInterrupt, SystemExit):
    Django's Atomic turns autocommit back on in its ``finally``, which in Python's sqlite3
    would commit the open transaction, unsynced, at NORMAL."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    def interrupted(self: Any) -> None:
        raise KeyboardInterrupt

    wrapper.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    _insert(wrapper, "interrupted")
    monkeypatch.setattr(BaseDatabaseWrapper, "_commit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        wrapper.commit()
    monkeypatch.undo()
    wrapper.set_autocommit(True)
    assert _rows(db_path) == [] and _synchronous(wrapper) == sqlite_backend.FULL
    assert writelock_is_free(f"{db_path}.writelock")
