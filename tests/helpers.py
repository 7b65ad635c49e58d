"""Test helpers: our own TOTP computation (RFC 6238) so MFA tests do not trust django-otp's;
scratch connections of the project's SQLite backend and a probe of its writer lock; a second
PostgreSQL session beside Django's."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import os
import struct
import time
from pathlib import Path
from typing import Any

import psycopg
from django.db import connection
from django.db.utils import ConnectionHandler

from iptcare.core.db.sqlite3.base import DatabaseWrapper


def totp(secret_b32: str, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % (10**digits)
    return str(code).zfill(digits)


def scratch_sqlite(path: Path, **options: Any) -> DatabaseWrapper:
    """A connection of our SQLite backend to the file ``path``, outside pytest-django's test
    database (the caller unblocks database access and closes it), with a table ``t``."""
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "iptcare.core.db.sqlite3",
                "NAME": str(path),
                "OPTIONS": {"transaction_mode": "IMMEDIATE", **options},
            }
        }
    )
    wrapper = handler["default"]
    assert isinstance(wrapper, DatabaseWrapper)
    with wrapper.cursor() as cursor:
        cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    return wrapper


def writelock_is_free(path: str) -> bool:
    """Whether another process could take the backend's writer lock file ``path`` now."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def other_pg_session(*, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A psycopg connection of its own to the test database (PostgreSQL): another client, as
    the server sees it, beside Django's connection."""
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    return psycopg.connect(**params, autocommit=autocommit)


def last_audit_id() -> int:
    """The id of the newest audit event (0 if none): events written after it have larger ids.
    (``seq`` counts within one of the trail's chains, ADR 0014, so it orders nothing across
    them; the id is the order events were inserted in.)"""
    from iptcare.audit.models import AuditEvent

    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
