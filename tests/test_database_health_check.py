"""PostgreSQL's per-request health check sends nothing while the connection is quiet, and
still replaces a connection the server has ended (iptcare.core.db.postgresql)."""

from __future__ import annotations

import select

import pytest
from django.db import connection

from tests.helpers import other_pg_session


def _last_statement(pid: int) -> str | None:
    with other_pg_session() as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return None if row is None else str(row[0])


def _new_request() -> None:
    """What Django does between requests for a persistent connection: the next cursor is
    checked again (``close_old_connections`` resets the flag)."""
    setattr(connection, "health_check_done", False)  # noqa: B010 (not in django-stubs)


@pytest.mark.django_db(transaction=True)
def test_a_quiet_connection_is_checked_without_a_statement() -> None:
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"
        return
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), 'iptcare health probe'")
        pid = cursor.fetchone()[0]
    _new_request()
    with connection.cursor() as cursor:  # the check runs before this cursor
        assert getattr(connection, "health_check_done") is True  # noqa: B009
        # Django's own check would have sent SELECT 1 before this cursor was handed out.
        assert _last_statement(pid) == "SELECT pg_backend_pid(), 'iptcare health probe'"
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == pid  # the same connection, kept


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it() -> None:
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with other_pg_session() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    # Until the server's goodbye has arrived on the socket (what a request after a restart or
    # a terminated session finds), waiting on the socket itself rather than for a set time.
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    assert poller.poll(10_000), "the server did not end the session within 10 s"
    _new_request()
    with connection.cursor() as cursor:  # Django's check, then a fresh connection
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
