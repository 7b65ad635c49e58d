"""PostgreSQL: an audit event takes its place in the chain inside its own INSERT (ADR 0012).

``iptcare_audit_next(lock_key, genesis, heads, middles, tails)`` takes the chain's
transaction-scoped advisory lock, reads the head with a snapshot taken after the lock was granted
(a VOLATILE function's every query takes a fresh one in READ COMMITTED, as in ADR 0010), and
returns, for each event of a batch in order, its ``seq``, its ``prev_hash`` and its hash: SHA-256
of ``heads[i] || prev_hash || middles[i] || seq || tails[i]``, the event's canonical JSON, which
Python wrote around the two values only the head can give (``chain.PreparedEvent``). The INSERT
reads those from a CTE that calls the function, so lock, head read, hash and insert are one
statement — one round trip with the lock held instead of two — and the same text Python hashes.

It replaces ``iptcare_audit_head`` (migration 0004), which nothing calls any more.
"""

from importlib import import_module

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CREATE = """
CREATE OR REPLACE FUNCTION iptcare_audit_next(
    lock_key bigint, genesis text, heads text[], middles text[], tails text[]
)
RETURNS TABLE (new_seq bigint, new_prev_hash text, new_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    IF array_length(heads, 1) IS DISTINCT FROM array_length(middles, 1)
        OR array_length(heads, 1) IS DISTINCT FROM array_length(tails, 1) THEN
        RAISE EXCEPTION 'iptcare_audit_next: heads, middles and tails differ in length';
    END IF;
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.seq, e.hash INTO head_seq, head_hash
        FROM audit_auditevent e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := genesis;
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
DROP = "DROP FUNCTION IF EXISTS iptcare_audit_next(bigint, text, text[], text[], text[])"

# Migration 0004's function, dropped here and restored on the way back.
HEAD_CREATE = import_module("iptcare.audit.migrations.0004_chain_head_function").CREATE
HEAD_DROP = "DROP FUNCTION IF EXISTS iptcare_audit_head(bigint)"


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
        schema_editor.execute(HEAD_DROP)


def remove(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(HEAD_CREATE)
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_fewer_indexes")]

    operations = [migrations.RunPython(install, remove)]
