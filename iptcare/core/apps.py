from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _leftovers_of_the_old_sqlite_backend(database: Path) -> None:
    """Releases before ADR 0015 ran SQLite through a backend of their own, which left files
    beside the database: a writer lock (``.writelock``), now unused, which is removed; and,
    after a failed sync of the write-ahead log, a marker (``.sync-failed``) that stopped every
    writer until an operator had checked the disk. That marker still stops the app: a commit
    may not have reached the disk, and only a person can tell whether anything was lost."""
    real = database.resolve()
    for path in {database, real}:
        Path(f"{path}.writelock").unlink(missing_ok=True)
    marker = Path(f"{real}.sync-failed")
    if marker.exists():
        raise ImproperlyConfigured(
            f"{marker} says that a commit to {real} may not have reached the disk (written by "
            "an earlier release after a failed sync). Check the disk and the database "
            "(PRAGMA integrity_check), then delete that file."
        )


class CoreConfig(AppConfig):
    name = "iptcare.core"
    label = "core"
    verbose_name = "Organisations and programs"

    def ready(self) -> None:
        database = settings.DATABASES["default"]
        if database["ENGINE"] == "django.db.backends.sqlite3" and not settings.TESTING:
            _leftovers_of_the_old_sqlite_backend(Path(database["NAME"]))
