"""The stock ledger maintains two indexes fewer per movement. ``stock_level_id``'s own index is covered by
``movement_level_bucket`` (stock_level, bucket): dropped, the foreign key untouched
(``omni.db.field_index``). ``reason`` had, on PostgreSQL, a plain index and a ``varchar_pattern_ops`` copy
for ``LIKE``, which nothing runs on a reason (equality, ``IN`` and the admin's sort use the plain one):
the plain index stays, renamed to its ``Meta.indexes`` name (no rebuild), the copy is dropped. Elsewhere
(SQLite has no copy) the index is renamed. Migrating back restores both."""

import django.db.models.deletion
from django.db import migrations, models

from omni.db.field_index import field_index_drop

OLD = "inventory_stockmovement_reason_95318321"  # the name Django gave the field's index
NEW = "movement_reason"
REASONS = [('receipt', 'Receipt'), ('sale', 'Sale (POS)'), ('fulfilment', 'Order fulfilment (shipped/collected)'), ('return', 'Return'), ('transfer_out', 'Transfer out'), ('transfer_in', 'Transfer in'), ('adjustment', 'Adjustment'), ('count', 'Count correction'), ('damage', 'Damage'), ('quarantine', 'Quarantine')]


def _rename(forward: bool):
    def run(apps, schema_editor):
        model = apps.get_model("inventory", "stockmovement")
        source, target = (OLD, NEW) if forward else (NEW, OLD)
        if schema_editor.connection.vendor == "postgresql":
            if forward:
                schema_editor.execute(f'DROP INDEX IF EXISTS "{OLD}_like"')
            else:
                schema_editor.execute(f'CREATE INDEX "{OLD}_like" ON "{model._meta.db_table}" ("reason" varchar_pattern_ops)')
        schema_editor.rename_index(model, models.Index(fields=["reason"], name=source), models.Index(fields=["reason"], name=target))
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0019_reservation_reference_one_index'),
    ]

    operations = [
        field_index_drop(
            'inventory', 'stockmovement', 'stock_level',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='movements', to='inventory.stocklevel'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name='stockmovement', name='reason', field=models.CharField(choices=REASONS, max_length=16)),
                migrations.AddIndex(model_name='stockmovement', index=models.Index(fields=['reason'], name=NEW)),
            ],
            database_operations=[migrations.RunPython(_rename(True), _rename(False), elidable=False)],
        ),
    ]
