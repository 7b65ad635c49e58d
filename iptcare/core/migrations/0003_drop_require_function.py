"""PostgreSQL: drop ``iptcare_require`` (migration 0002). It served a questionnaire submit sent as
one statement, which is now an ordinary transaction of the ORM (ADR 0015)."""

from importlib import import_module

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

REQUIRE = import_module("iptcare.core.migrations.0002_require_function")


def drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REQUIRE.DROP)


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REQUIRE.CREATE)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_require_function")]

    operations = [migrations.RunPython(drop, create)]
