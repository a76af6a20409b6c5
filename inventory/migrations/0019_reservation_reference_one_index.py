"""A reservation's ``reference`` keeps one index. ``db_index=True`` on a CharField gave PostgreSQL two:
a plain one and a ``varchar_pattern_ops`` one. The only reads by reference are ``startswith`` (the
ledger's orphan check), which only the pattern index serves under the database's C.UTF-8 collation; the
pattern index also serves equality, and nothing sorts or range-compares references. So the pattern index
stays as it was, renamed to its ``Meta.indexes`` name (no rebuild), and the plain one is dropped: each
reservation (one per allocation of every order) maintains one index entry fewer. Elsewhere (SQLite has
no pattern index) the one index is renamed. Migrating back restores both."""

from django.db import migrations, models

OLD = "inventory_reservation_reference_29d35f27"  # the name Django gave the field's index
NEW = "reservation_reference"


def _index(name: str) -> models.Index:
    return models.Index(fields=["reference"], name=name, opclasses=["varchar_pattern_ops"])


def forward(apps, schema_editor):
    model = apps.get_model("inventory", "reservation")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{OLD}"')
        schema_editor.execute(f'ALTER INDEX IF EXISTS "{OLD}_like" RENAME TO "{NEW}"')
        # a database that had lost the pattern index gets one (the ledger's ``startswith`` needs it)
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{NEW}" ON "{model._meta.db_table}" ("reference" varchar_pattern_ops)'
        )
    else:
        schema_editor.rename_index(model, models.Index(fields=["reference"], name=OLD), models.Index(fields=["reference"], name=NEW))


def backward(apps, schema_editor):
    model = apps.get_model("inventory", "reservation")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'ALTER INDEX IF EXISTS "{NEW}" RENAME TO "{OLD}_like"')
        schema_editor.execute(f'CREATE INDEX "{OLD}" ON "{model._meta.db_table}" ("reference")')
    else:
        schema_editor.rename_index(model, models.Index(fields=["reference"], name=NEW), models.Index(fields=["reference"], name=OLD))


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0018_covered_fk_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name='reservation', name='reference', field=models.CharField(max_length=128)),
                migrations.AddIndex(model_name='reservation', index=_index(NEW)),
            ],
            database_operations=[migrations.RunPython(forward, backward, elidable=False)],
        ),
    ]
