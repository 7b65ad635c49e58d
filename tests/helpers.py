"""Test helpers: our own TOTP computation (RFC 6238) so MFA tests do not trust django-otp's; a
second PostgreSQL session beside Django's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from typing import Any

import psycopg
from django.db import connection


def totp(secret_b32: str, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % (10**digits)
    return str(code).zfill(digits)


def other_pg_session(*, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A psycopg connection of its own to the test database (PostgreSQL): another client, as
    the server sees it, beside Django's connection."""
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    return psycopg.connect(**params, autocommit=autocommit)


def last_audit_id() -> int:
    """The id of the newest audit event (0 if none): events written after it have larger ids."""
    from iptcare.audit.models import AuditEvent

    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def audit_events_after(mark: int) -> list[Any]:
    """The audit events written after ``last_audit_id()`` returned ``mark``, oldest first."""
    from iptcare.audit.models import AuditEvent

    return list(AuditEvent.objects.filter(id__gt=mark).order_by("id"))
