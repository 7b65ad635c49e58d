"""Administrations are never edited or deleted (installed by migration 0002)."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from iptcare.core.triggers import append_only, register

ADMINISTRATIONS = register(
    append_only(
        "measures_administration",
        "measures_administration",
        "administrations are never edited or deleted",
    )
)


def install(connection: BaseDatabaseWrapper) -> None:
    ADMINISTRATIONS.install(connection)


def remove(connection: BaseDatabaseWrapper) -> None:
    ADMINISTRATIONS.remove(connection)
