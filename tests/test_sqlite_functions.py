"""The SQLite backend's ``django_datetime_cast_date`` (``__date`` lookups) answers exactly as
Django's own function does (iptcare.core.db.sqlite3.base.datetime_cast_date)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.sqlite3 import _functions  # type: ignore[attr-defined]  # no stubs
from hypothesis import given
from hypothesis import strategies as st

from iptcare.core.db.sqlite3 import base as sqlite_backend
from iptcare.core.db.sqlite3.base import DatabaseWrapper, datetime_cast_date
from tests.helpers import scratch_sqlite

ZONES = (None, "UTC", "Europe/Paris", "America/Chicago", "Pacific/Kiritimati")

_STORED = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(str)
_TEXT = st.text(alphabet="0123456789-: .Z+T", max_size=30)


def _outcome(function: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "value", function(*args)
    except Exception as exc:  # comparing what each raises
        return "raises", type(exc)


@given(
    dt=st.none() | _STORED | _TEXT | st.sampled_from(["2026-02-30 10:00:00", "2026-11-27"]),
    zones=st.tuples(st.sampled_from(ZONES), st.sampled_from(ZONES)),
)
def test_the_date_of_a_timestamp_is_djangos(dt: str | None, zones: tuple[str, str]) -> None:
    """For any value, zone and connection zone: the same date, None or exception."""
    tzname, conn_tzname = zones
    for pair in ((tzname, conn_tzname), (conn_tzname, conn_tzname), ("UTC", "UTC")):
        assert _outcome(datetime_cast_date, dt, *pair) == _outcome(
            _functions._sqlite_datetime_cast_date, dt, *pair
        )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The arguments of every call of the backend's function, on connections opened after."""
    seen: list[tuple[Any, ...]] = []

    def spy(*args: Any) -> str | None:
        seen.append(args)
        return datetime_cast_date(*args)

    monkeypatch.setattr(sqlite_backend, "datetime_cast_date", spy)
    return seen


@pytest.fixture
def wrapper(
    tmp_path: Path, django_db_blocker: Any, calls: list[tuple[Any, ...]]
) -> Iterator[DatabaseWrapper]:
    django_db_blocker.unblock()
    wrapper = scratch_sqlite(tmp_path / "functions.sqlite3")
    yield wrapper
    wrapper.close()
    django_db_blocker.restore()


def test_the_backend_registers_it_for_every_connection(
    wrapper: DatabaseWrapper, calls: list[tuple[Any, ...]]
) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute(
            "SELECT django_datetime_cast_date(%s, 'UTC', 'UTC'), "
            "django_datetime_cast_date(%s, 'UTC', 'UTC'), "
            "django_datetime_cast_date(%s, 'America/Chicago', 'UTC')",
            ["2026-11-27 23:59:59.999999", "2026-02-30 10:00:00", "2026-11-27 01:00:00"],
        )
        assert cursor.fetchone() == ("2026-11-27", None, "2026-11-26")
    assert [args[0] for args in calls] == [
        "2026-11-27 23:59:59.999999",
        "2026-02-30 10:00:00",
        "2026-11-27 01:00:00",
    ]
