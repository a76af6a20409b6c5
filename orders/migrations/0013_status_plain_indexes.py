"""The statuses of orders, lines and allocations keep one plain index each. ``db_index=True`` on a
CharField gave PostgreSQL two: the plain one and a ``varchar_pattern_ops`` one for ``LIKE``, which nothing
runs on a status (every filter on it is an equality or ``IN``, which the plain index serves), and every
order's insert maintained both on three tables. The plain index stays as it was, renamed to the name
``Meta.indexes`` gives it (no rebuild); the pattern index is dropped. Elsewhere (SQLite has no pattern
index) the index is renamed, or dropped and created again where the database cannot rename one."""

from django.db import migrations, models

# (model, the index Django named for the field, its new name in Meta.indexes)
STATUS_INDEXES = [
    ("order", "orders_order_status_445594e5", "order_status"),
    ("orderline", "orders_orderline_status_e986eb55", "orderline_status"),
    ("allocation", "orders_allocation_status_4c64d7fd", "allocation_status"),
]


def _rename(forward: bool):
    def run(apps, schema_editor):
        for model_name, old, new in STATUS_INDEXES:
            model = apps.get_model("orders", model_name)
            source, target = (old, new) if forward else (new, old)
            if schema_editor.connection.vendor == "postgresql":
                if forward:
                    schema_editor.execute(f'DROP INDEX IF EXISTS "{old}_like"')
                else:
                    schema_editor.execute(
                        f'CREATE INDEX "{old}_like" ON "{model._meta.db_table}" ("status" varchar_pattern_ops)'
                    )
            schema_editor.rename_index(
                model, models.Index(fields=["status"], name=source), models.Index(fields=["status"], name=target)
            )
    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0012_lz4_for_large_json")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="allocation",
                    name="status",
                    field=models.CharField(choices=[("reserved", "Reserved"), ("fulfilled", "Fulfilled (shipped or collected)"), ("cancelled", "Cancelled"), ("rejected", "Rejected by the location")], default="reserved", max_length=12),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="status",
                    field=models.CharField(choices=[("allocated", "Allocated"), ("backordered", "Backordered (waiting for stock)"), ("partially_fulfilled", "Partially fulfilled"), ("fulfilled", "Fulfilled"), ("cancelled", "Cancelled")], default="allocated", max_length=24),
                ),
                migrations.AlterField(
                    model_name="orderline",
                    name="status",
                    field=models.CharField(choices=[("allocated", "Allocated"), ("backordered", "Backordered"), ("fulfilled", "Fulfilled"), ("cancelled", "Cancelled")], default="allocated", max_length=12),
                ),
                migrations.AddIndex(model_name="allocation", index=models.Index(fields=["status"], name="allocation_status")),
                migrations.AddIndex(model_name="order", index=models.Index(fields=["status"], name="order_status")),
                migrations.AddIndex(model_name="orderline", index=models.Index(fields=["status"], name="orderline_status")),
            ],
            database_operations=[migrations.RunPython(_rename(True), _rename(False), elidable=False)],
        ),
    ]
