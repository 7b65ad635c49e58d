"""Signed notes are frozen and no note is ever deleted — enforced by the database too."""

from __future__ import annotations

from iptcare.core.triggers import TriggerSet, append_only, register

NOTE_TABLE = "encounters_sessionnote"
# Keep in step with models.FROZEN_FIELDS and models.SET_ONCE_FIELDS.
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
    "cosign_required",
    "group_key",
)
# Once filled, kept: a co-signature and an entered-in-error mark (with its reason) are never
# taken back or rewritten, whatever the note's status.
_SET_ONCE = ("cosigned_by_id", "cosigned_at", "entered_in_error_at", "entered_in_error_by_id")
_MSG = "signed notes cannot be changed or deleted"

# A signed note does not return to draft, a final note stays final, frozen columns keep their
# value; a pending note becomes final only with a co-signer (the CHECK constraint in 0003).
_sqlite_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FROZEN)
_pg_changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FROZEN)
_sqlite_signed = (
    f"OLD.status != 'draft' AND (NEW.status = 'draft' OR "
    f"(OLD.status = 'final' AND NEW.status != 'final') OR {_sqlite_changed})"
)
_pg_signed = (
    f"OLD.status <> 'draft' AND (NEW.status = 'draft' OR "
    f"(OLD.status = 'final' AND NEW.status <> 'final') OR {_pg_changed})"
)
_sqlite_set_once = " OR ".join(
    [f"(OLD.{c} IS NOT NULL AND NEW.{c} IS NOT OLD.{c})" for c in _SET_ONCE]
    + [
        "(OLD.entered_in_error_at IS NOT NULL AND "
        "NEW.entered_in_error_reason IS NOT OLD.entered_in_error_reason)"
    ]
)
_pg_set_once = " OR ".join(
    [f"(OLD.{c} IS NOT NULL AND NEW.{c} IS DISTINCT FROM OLD.{c})" for c in _SET_ONCE]
    + [
        "(OLD.entered_in_error_at IS NOT NULL AND "
        "NEW.entered_in_error_reason IS DISTINCT FROM OLD.entered_in_error_reason)"
    ]
)

SIGNED_NOTES = register(
    TriggerSet(
        name="signed_notes",
        sqlite_create=(
            f"CREATE TRIGGER IF NOT EXISTS note_signed_frozen BEFORE UPDATE ON {NOTE_TABLE} "
            f"WHEN ({_sqlite_signed}) OR {_sqlite_set_once} "
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
                IF ({_pg_signed}) OR {_pg_set_once} THEN
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
