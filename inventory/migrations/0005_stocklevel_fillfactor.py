"""Stock rows are updated all day (every movement, reservation and release) and none of the updated
columns is indexed: with free room on each page PostgreSQL can update them in place (HOT updates),
without touching the table's indexes. PostgreSQL only; a no-op elsewhere."""

from django.db import migrations


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE inventory_stocklevel SET (fillfactor = 70)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE inventory_stocklevel RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0004_cyclecount_external_id_db_default")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
