"""Frozen plan versions cannot change and are never deleted — enforced by the database too.

A version leaves draft when it is signed or acknowledged; from then on its identifying columns
and content rows are fixed, recorded signatures keep their value, a superseded version does not
change at all, and no version returns to draft. Keep in step with models.FROZEN_FIELDS and
models.SET_ONCE_FIELDS.
"""

from __future__ import annotations

from iptcare.core.triggers import TriggerSet, register

PLAN_TABLE = "plans_treatmentplan"
CONTENT_TABLES = (
    "plans_planproblem",
    "plans_plangoal",
    "plans_planobjective",
    "plans_planintervention",
    "plans_planmedication",
)
_FROZEN = ("episode_id", "number", "created_by_id", "content_digest")
_SET_ONCE = (
    "signed_by_id",
    "signed_at",
    "acknowledged_at",
    "acknowledged_by_id",
    "cosigned_by_id",
    "cosigned_at",
    "activated_at",
)
_MSG = "frozen plan versions cannot be changed or deleted"

_sqlite_changed = " OR ".join(
    [f"NEW.{c} IS NOT OLD.{c}" for c in _FROZEN]
    + [f"(OLD.{c} IS NOT NULL AND NEW.{c} IS NOT OLD.{c})" for c in _SET_ONCE]
)
_pg_changed = " OR ".join(
    [f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FROZEN]
    + [f"(OLD.{c} IS NOT NULL AND NEW.{c} IS DISTINCT FROM OLD.{c})" for c in _SET_ONCE]
)


_frozen_parent = f"SELECT 1 FROM {PLAN_TABLE} WHERE id = %s.plan_id AND status <> 'draft'"  # noqa: S608


def _sqlite_content(table: str) -> tuple[str, ...]:
    # Constant table names only: no input reaches these statements.
    status = f"(SELECT status FROM {PLAN_TABLE} WHERE id = %s.plan_id) != 'draft'"  # noqa: S608
    return (
        f"CREATE TRIGGER IF NOT EXISTS {table}_frozen_ins BEFORE INSERT ON {table} "
        f"WHEN {status % 'NEW'} BEGIN SELECT RAISE(ABORT, '{_MSG}'); END;",
        f"CREATE TRIGGER IF NOT EXISTS {table}_frozen_upd BEFORE UPDATE ON {table} "
        f"WHEN {status % 'OLD'} OR {status % 'NEW'} BEGIN SELECT RAISE(ABORT, '{_MSG}'); END;",
        f"CREATE TRIGGER IF NOT EXISTS {table}_frozen_del BEFORE DELETE ON {table} "
        f"WHEN {status % 'OLD'} BEGIN SELECT RAISE(ABORT, '{_MSG}'); END;",
    )


FROZEN_PLANS = register(
    TriggerSet(
        name="frozen_plans",
        sqlite_create=(
            f"CREATE TRIGGER IF NOT EXISTS plan_frozen BEFORE UPDATE ON {PLAN_TABLE} "
            f"WHEN OLD.status != 'draft' AND (OLD.status = 'superseded' OR NEW.status = 'draft' "
            f"OR {_sqlite_changed}) BEGIN SELECT RAISE(ABORT, '{_MSG}'); END;",
            f"CREATE TRIGGER IF NOT EXISTS plan_no_delete BEFORE DELETE ON {PLAN_TABLE} "
            f"WHEN OLD.status != 'draft' BEGIN SELECT RAISE(ABORT, '{_MSG}'); END;",
            *[sql for table in CONTENT_TABLES for sql in _sqlite_content(table)],
        ),
        sqlite_drop=(
            "DROP TRIGGER IF EXISTS plan_frozen;",
            "DROP TRIGGER IF EXISTS plan_no_delete;",
            *[
                f"DROP TRIGGER IF EXISTS {table}_frozen_{op};"
                for table in CONTENT_TABLES
                for op in ("ins", "upd", "del")
            ],
        ),
        postgres_create=(
            f"""CREATE OR REPLACE FUNCTION plan_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    IF OLD.status <> 'draft' THEN
                        RAISE EXCEPTION '{_MSG}' USING ERRCODE = 'insufficient_privilege';
                    END IF;
                    RETURN OLD;
                END IF;
                IF OLD.status <> 'draft' AND (OLD.status = 'superseded' OR NEW.status = 'draft'
                        OR {_pg_changed}) THEN
                    RAISE EXCEPTION '{_MSG}' USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END $$;""",
            f"CREATE OR REPLACE TRIGGER plan_guard BEFORE UPDATE OR DELETE ON {PLAN_TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION plan_guard();",
            f"""CREATE OR REPLACE FUNCTION plan_content_guard() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
                    {_frozen_parent % "OLD"}
                ) THEN
                    RAISE EXCEPTION '{_MSG}' USING ERRCODE = 'insufficient_privilege';
                END IF;
                IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
                    {_frozen_parent % "NEW"}
                ) THEN
                    RAISE EXCEPTION '{_MSG}' USING ERRCODE = 'insufficient_privilege';
                END IF;
                IF TG_OP = 'DELETE' THEN
                    RETURN OLD;
                END IF;
                RETURN NEW;
            END $$;""",
            *[
                f"CREATE OR REPLACE TRIGGER {table}_guard BEFORE INSERT OR UPDATE OR DELETE "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION plan_content_guard();"
                for table in CONTENT_TABLES
            ],
        ),
        postgres_drop=(
            *[f"DROP TRIGGER IF EXISTS {table}_guard ON {table};" for table in CONTENT_TABLES],
            f"DROP TRIGGER IF EXISTS plan_guard ON {PLAN_TABLE};",
            "DROP FUNCTION IF EXISTS plan_content_guard();",
            "DROP FUNCTION IF EXISTS plan_guard();",
        ),
    )
)
