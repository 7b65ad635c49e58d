"""The audit trail becomes several hash chains written side by side (ADR 0014).

- ``chain`` (0 for every event already written: the trail so far is chain 0, unchanged, and
  still verifies) and ``seq`` unique per chain instead of across the trail. ``prev_hash`` stays
  UNIQUE across the trail: each chain starts from its own genesis (``models.genesis_hash``).
- PostgreSQL: ``iptcare_audit_next(lock_key, chains, heads, middles, tails)`` replaces the
  function of migration 0006. It appends to chain ``txid_current() % chains`` — the same chain
  for every append of one transaction, so a transaction holds one chain's lock, as before — under
  that chain's advisory lock (``lock_key + chain``), reading that chain's head with a snapshot
  taken after the lock (ADR 0010), and returns each event's chain, seq, prev_hash and hash.
  Transactions on different chains no longer wait for each other's commit.

- The report's index: ``occurred_at``, ``organisation_id`` and ``action`` lose their own indexes
  for one on ``(organisation_id, occurred_at)``, which serves the report (always one
  organisation's events, by time) better than any of them: two B-trees fewer written by every
  audited request (ADR 0002, amended 2026-12-05). ``prev_hash``'s UNIQUE becomes a named
  constraint, which on PostgreSQL drops the second, pattern-matching index ``unique=True`` built.

On SQLite the new UNIQUE and the dropped one rebuild the table, which drops its append-only
triggers with the old table: they are lifted before and put back after, in this migration's
transaction (as in 0005). Going back to 0006 fails while two chains share a ``seq``.
"""

from importlib import import_module

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


CREATE = """
CREATE OR REPLACE FUNCTION iptcare_audit_next(
    lock_key bigint, chains integer, heads text[], middles text[], tails text[]
)
RETURNS TABLE (new_chain smallint, new_seq bigint, new_prev_hash text, new_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    IF array_length(heads, 1) IS DISTINCT FROM array_length(middles, 1)
        OR array_length(heads, 1) IS DISTINCT FROM array_length(tails, 1) THEN
        RAISE EXCEPTION 'iptcare_audit_next: heads, middles and tails differ in length';
    END IF;
    IF chains IS NULL OR chains < 1 OR chains > 32767 THEN
        RAISE EXCEPTION 'iptcare_audit_next: chains must be between 1 and 32767';
    END IF;
    -- The transaction's own id: every append of one transaction goes to one chain.
    new_chain := mod(txid_current(), chains)::smallint;
    PERFORM pg_advisory_xact_lock(lock_key + new_chain);
    SELECT e.seq, e.hash INTO head_seq, head_hash
        FROM audit_auditevent e WHERE e.chain = new_chain ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := lpad(to_hex(new_chain::integer), 64, '0');  -- models.genesis_hash
    END IF;
    FOR i IN 1 .. coalesce(array_length(heads, 1), 0) LOOP
        new_seq := head_seq + 1;
        new_prev_hash := head_hash;
        new_hash := encode(
            sha256(convert_to(heads[i] || head_hash || middles[i] || new_seq::text || tails[i], 'UTF8')),
            'hex'
        );
        RETURN NEXT;
        head_seq := new_seq;
        head_hash := new_hash;
    END LOOP;
END
$$
"""
DROP = "DROP FUNCTION IF EXISTS iptcare_audit_next(bigint, integer, text[], text[], text[])"

# The actions as they stood when this migration was written (choices do not touch the schema).
ACTIONS = [
    ("view", "View"),
    ("list", "List / search"),
    ("create", "Create"),
    ("update", "Update"),
    ("sign", "Sign"),
    ("export", "Export"),
    ("manage", "Manage"),
    ("login", "Log in"),
    ("logout", "Log out"),
    ("login_failed", "Failed login"),
    ("lockout", "Account locked out"),
    ("mfa_enrolled", "MFA enrolled"),
    ("mfa_failed", "MFA code refused"),
    ("mfa_reset", "MFA reset"),
    ("password_changed", "Password changed"),
    ("password_reset_requested", "Password reset requested"),
    ("privilege_change", "Privilege change"),
    ("token_created", "API token created"),
    ("token_revoked", "API token revoked"),
    ("session_expired", "Session expired"),
]

# Migration 0006's function, dropped here and restored on the way back.
ONE_CHAIN = import_module("iptcare.audit.migrations.0006_chain_append_function")


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ONE_CHAIN.DROP)
        schema_editor.execute(CREATE)


def remove(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(ONE_CHAIN.CREATE)


# Migration 0005's steps that put the append-only triggers back and lift them.
triggers_on = import_module("iptcare.audit.migrations.0005_fewer_indexes").install
triggers_off = import_module("iptcare.audit.migrations.0005_fewer_indexes").remove


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_chain_append_function")]

    operations = [
        migrations.RunPython(triggers_off, triggers_on),
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.PositiveSmallIntegerField(
                default=0, db_default=0, help_text="Which of the trail's chains."
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(help_text="Position in its chain, from 1, no gaps."),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("chain", "seq"), name="audit_chain_seq"),
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["occurred_at", "id"]},
        ),
        # The report's index (ADR 0002, amended 2026-12-05): three B-trees become one.
        migrations.AlterField(
            model_name="auditevent",
            name="occurred_at",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="organisation_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(choices=ACTIONS, max_length=40),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organisation_id", "occurred_at"], name="audit_org_time"),
        ),
        # prev_hash stays UNIQUE, as a constraint: unique=True also built a pattern-matching
        # index on PostgreSQL that no query uses.
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("prev_hash",), name="audit_prev_hash"),
        ),
        migrations.RunPython(install, remove),
        migrations.RunPython(triggers_on, triggers_off),
    ]
