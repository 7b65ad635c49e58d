"""Signed notes frozen, notes never deleted, addenda append-only — at the database."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from iptcare.encounters import triggers


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    triggers.SIGNED_NOTES.install(schema_editor.connection)
    triggers.ADDENDA.install(schema_editor.connection)


def remove(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    triggers.SIGNED_NOTES.remove(schema_editor.connection)
    triggers.ADDENDA.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("encounters", "0001_initial"), ("audit", "0002_append_only_triggers")]

    operations = [migrations.RunPython(install, remove)]
