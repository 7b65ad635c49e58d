"""Three B-trees fewer for every audit event written (ADR 0002, amended 2026-11-28).

- ``actor_id`` and ``client_id`` lose their single-column indexes: ``audit_actor_time`` and
  ``audit_client_time`` begin with those columns and serve a search by either alone.
- ``hash`` is no longer UNIQUE on its own: the hash covers ``seq``, which is, so no two events
  could share it without ``seq`` refusing them first. ``seq`` and ``prev_hash`` stay UNIQUE:
  a second writer still fails rather than fork the chain.

Every index is another page written (and fsynced) under the writer lock by every audited request.
On SQLite, dropping the UNIQUE rebuilds the table, which drops its append-only triggers with the
old table; they are lifted before and put back after, in this migration's transaction.
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from iptcare.audit import triggers


def install(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    triggers.install(schema_editor.connection)


def remove(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    triggers.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_chain_head_function")]

    operations = [
        migrations.RunPython(remove, install),
        migrations.AlterField(
            model_name="auditevent",
            name="actor_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="client_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(max_length=64),
        ),
        migrations.RunPython(install, remove),
    ]
