"""Database triggers that protect records the application must never change or delete.

Each app declares a ``TriggerSet`` (SQLite and PostgreSQL statements); its migration installs it.
The test suite — and only the test suite — lifts every registered set around Django's table
flush between transactional tests (tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True)
class TriggerSet:
    name: str
    sqlite_create: tuple[str, ...]
    sqlite_drop: tuple[str, ...]
    postgres_create: tuple[str, ...]
    postgres_drop: tuple[str, ...]

    def statements(self, vendor: str, *, create: bool) -> tuple[str, ...]:
        if vendor == "sqlite":
            return self.sqlite_create if create else self.sqlite_drop
        if vendor == "postgresql":
            return self.postgres_create if create else self.postgres_drop
        raise RuntimeError(f"no {self.name} triggers for database vendor {vendor!r}")

    def install(self, connection: BaseDatabaseWrapper) -> None:
        with connection.cursor() as cursor:
            for sql in self.statements(connection.vendor, create=True):
                cursor.execute(sql)

    def remove(self, connection: BaseDatabaseWrapper) -> None:
        with connection.cursor() as cursor:
            for sql in self.statements(connection.vendor, create=False):
                cursor.execute(sql)


REGISTRY: dict[str, TriggerSet] = {}


def register(trigger_set: TriggerSet) -> TriggerSet:
    REGISTRY[trigger_set.name] = trigger_set
    return trigger_set


def append_only(name: str, table: str, message: str) -> TriggerSet:
    """Refuse every UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``table``."""
    fn = f"{name}_refuse_change"
    return TriggerSet(
        name=name,
        sqlite_create=(
            f"CREATE TRIGGER IF NOT EXISTS {name}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END;",
            f"CREATE TRIGGER IF NOT EXISTS {name}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END;",
        ),
        sqlite_drop=(
            f"DROP TRIGGER IF EXISTS {name}_no_update;",
            f"DROP TRIGGER IF EXISTS {name}_no_delete;",
        ),
        postgres_create=(
            f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
            END $$;""",
            f"CREATE OR REPLACE TRIGGER {name}_no_update_delete BEFORE UPDATE OR DELETE ON "
            f"{table} FOR EACH ROW EXECUTE FUNCTION {fn}();",
            f"CREATE OR REPLACE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}();",
        ),
        postgres_drop=(
            f"DROP TRIGGER IF EXISTS {name}_no_update_delete ON {table};",
            f"DROP TRIGGER IF EXISTS {name}_no_truncate ON {table};",
            f"DROP FUNCTION IF EXISTS {fn}();",
        ),
    )
