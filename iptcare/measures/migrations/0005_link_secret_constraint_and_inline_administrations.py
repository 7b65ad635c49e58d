"""Two changes to what a questionnaire submit writes on PostgreSQL (bench/README.md, figures of
2026-12-05 08:40Z).

- The link's ``secret_hash`` stays UNIQUE, as a named constraint: ``unique=True`` also built a
  pattern-matching (``varchar_pattern_ops``) index, which no query uses (the secret is looked up
  by equality) and to which every spent link wrote an entry (spending a link changes an indexed
  column, so its UPDATE writes every index of the table).
- An administration row is kept whole in its table up to 8,160 bytes (``toast_tuple_target``):
  at the default (about 2 kB) PostgreSQL compressed the FHIR QuestionnaireResponse and
  Observation of nearly every administration (2.6 kB a row on average) and moved them to the
  TOAST table, on every insert — about 0.1 ms of the database's CPU per submit, measured
  in-process, for rows that are written once and read whole. Rows stay larger on disk (no
  compression below 8 kB); longer rows are compressed and moved out as before. SQLite has no
  such setting.
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLE = "measures_administration"


def inline(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (toast_tuple_target = 8160)")


def default(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (toast_tuple_target)")


class Migration(migrations.Migration):
    dependencies = [("measures", "0004_measuresettings")]

    operations = [
        migrations.AlterField(
            model_name="measurelink",
            name="secret_hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AddConstraint(
            model_name="measurelink",
            constraint=models.UniqueConstraint(
                fields=("secret_hash",), name="measure_link_secret_hash"
            ),
        ),
        migrations.RunPython(inline, default),
    ]
