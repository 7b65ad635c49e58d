"""PostgreSQL: ``iptcare_require(ok, message)``, for a write of several parts sent as one
statement (ADR 0013; dropped by 0003 with that statement, ADR 0015).

It returns true when ``ok`` is true and otherwise raises ``message`` with SQLSTATE ``IPT01``
(``statement.REQUIREMENT_FAILED``), which aborts the whole statement: every row its
data-modifying CTEs wrote is undone with it. So a condition that only the database can check
while it writes (a single-use link still unused) can decide whether anything of the statement
is kept, without a transaction of several round trips around it.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

CREATE = """
CREATE OR REPLACE FUNCTION iptcare_require(ok boolean, message text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION USING ERRCODE = 'IPT01', MESSAGE = message;
    END IF;
    RETURN true;
END
$$
"""
DROP = "DROP FUNCTION IF EXISTS iptcare_require(boolean, text)"


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def remove(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
