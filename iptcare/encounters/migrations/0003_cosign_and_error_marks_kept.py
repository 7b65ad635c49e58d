"""A pending note becomes final only with a co-signer; a co-signature, an entered-in-error mark,
``cosign_required`` and ``group_key`` keep their value; a final note stays final — at the
database, beside the model's own checks (the triggers are reinstalled with the new rules)."""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from iptcare.encounters import triggers


def reinstall(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    triggers.SIGNED_NOTES.remove(schema_editor.connection)
    triggers.SIGNED_NOTES.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("encounters", "0002_protective_triggers")]

    operations = [
        migrations.AddConstraint(
            model_name="sessionnote",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("cosign_required", True),
                    ("cosigned_by__isnull", True),
                    ("status", "final"),
                    _negated=True,
                ),
                name="note_final_is_cosigned_when_required",
            ),
        ),
        migrations.RunPython(reinstall, reinstall),
    ]
