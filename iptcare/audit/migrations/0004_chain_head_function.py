"""PostgreSQL: take the chain's lock and read its head in one statement (ADR 0010).

``iptcare_audit_head(key)`` takes the transaction-scoped advisory lock, then reads the newest
event. It is VOLATILE, so its SELECT gets a fresh snapshot *after* the lock is granted (in READ
COMMITTED, a volatile function's every query does): it sees the head that the previous holder
committed. A plain ``SELECT pg_advisory_xact_lock(..), (SELECT head)`` would not: its snapshot
is taken when the statement starts, before it waits for the lock. SQLite has nothing to do.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CREATE = """
CREATE OR REPLACE FUNCTION iptcare_audit_head(lock_key bigint)
RETURNS TABLE (head_seq bigint, head_hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY
        SELECT e.seq::bigint, e.hash::text FROM audit_auditevent e ORDER BY e.seq DESC LIMIT 1;
END
$$
"""
DROP = "DROP FUNCTION IF EXISTS iptcare_audit_head(bigint)"


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def remove(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_purpose_self")]

    operations = [migrations.RunPython(install, remove)]
