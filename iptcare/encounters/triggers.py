"""Signed notes are frozen and no note is ever deleted — enforced by the database too."""

from __future__ import annotations

from iptcare.core.triggers import TriggerSet, append_only, register

NOTE_TABLE = "encounters_sessionnote"
# Keep in step with models.FROZEN_FIELDS.
_FROZEN = (
    "client_id",
    "author_id",
    "kind",
    "session_date",
    "content",
    "signed_at",
    "signed_digest",
    "organisation_id",
    "program_id",
)
_MSG = "signed notes cannot be changed or deleted"

_sqlite_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FROZEN)
_pg_changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FROZEN)

SIGNED_NOTES = register(
    TriggerSet(
        name="signed_notes",
        sqlite_create=(
            f"CREATE TRIGGER IF NOT EXISTS note_signed_frozen BEFORE UPDATE ON {NOTE_TABLE} "
            f"WHEN OLD.status != 'draft' AND (NEW.status = 'draft' OR {_sqlite_changed}) "
            f"BEGIN SELECT RAISE(ABORT, '{_MSG}'); END;",
            f"CREATE TRIGGER IF NOT EXISTS note_no_delete BEFORE DELETE ON {NOTE_TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{_MSG}'); END;",
        ),
        sqlite_drop=(
            "DROP TRIGGER IF EXISTS note_signed_frozen;",
            "DROP TRIGGER IF EXISTS note_no_delete;",
        ),
        postgres_create=(
            f"""CREATE OR REPLACE FUNCTION note_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
                    RAISE EXCEPTION '{_MSG}' USING ERRCODE = 'insufficient_privilege';
                END IF;
                IF OLD.status <> 'draft' AND (NEW.status = 'draft' OR {_pg_changed}) THEN
                    RAISE EXCEPTION '{_MSG}' USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END $$;""",
            f"CREATE OR REPLACE TRIGGER note_guard BEFORE UPDATE OR DELETE ON {NOTE_TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION note_guard();",
            f"CREATE OR REPLACE TRIGGER note_no_truncate BEFORE TRUNCATE ON {NOTE_TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION note_guard();",
        ),
        postgres_drop=(
            f"DROP TRIGGER IF EXISTS note_guard ON {NOTE_TABLE};",
            f"DROP TRIGGER IF EXISTS note_no_truncate ON {NOTE_TABLE};",
            "DROP FUNCTION IF EXISTS note_guard();",
        ),
    )
)
ADDENDA = register(
    append_only("addenda", "encounters_noteaddendum", "addenda cannot be changed or deleted")
)
