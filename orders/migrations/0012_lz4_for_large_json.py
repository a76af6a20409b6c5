"""A routing decision's candidates (~3 KB of JSON for the bench's orders) take its row past PostgreSQL's
2 KB TOAST threshold, so every decision's insert compressed them with pglz (~1.4 % of a backend's CPU
per order). lz4 compresses the same values several times faster, at a similar size; reads decompress
whichever method a value was stored with, so the rows already written stay readable as they are. The
idempotency record's answer, near the threshold for larger orders, likewise. PostgreSQL only (lz4: PostgreSQL ≥ 14
built with it, as Debian's and the official images are); a no-op elsewhere."""

from django.db import migrations

COLUMNS = [
    ("orders_routingdecision", "candidates"),
    ("orders_routingdecision", "plan"),
    ("orders_idempotencyrecord", "response_body"),
]


def _lz4_available(connection) -> bool:
    """PostgreSQL 14 or later, built with lz4 (``default_toast_compression`` offers it)."""
    if connection.pg_version < 140000:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        row = cursor.fetchone()
    return bool(row and row[0])


def _set(method: str):
    def run(apps, schema_editor):
        # elsewhere (SQLite, an older or lz4-less PostgreSQL) the columns keep the default: the same
        # values, compressed more slowly; the migration must not stop a deploy for a speed-up
        if schema_editor.connection.vendor != "postgresql" or not _lz4_available(schema_editor.connection):
            return
        for table, column in COLUMNS:
            schema_editor.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION {method}')
    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0011_covered_fk_indexes")]

    operations = [migrations.RunPython(_set("lz4"), _set("default"), elidable=False)]
