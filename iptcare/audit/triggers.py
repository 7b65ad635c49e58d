"""The audit table is append-only at the database (installed by migration 0002)."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from iptcare.core.triggers import append_only, register

AUDIT = register(append_only("audit", "audit_auditevent", "audit events are append-only"))


def install(connection: BaseDatabaseWrapper) -> None:
    AUDIT.install(connection)


def remove(connection: BaseDatabaseWrapper) -> None:
    AUDIT.remove(connection)
