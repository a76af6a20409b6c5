"""The order path's tables carry no index another index covers, and keep every foreign key
(``orders`` 0011–0013, ``inventory`` 0018): what the eighth pass dropped was only redundant."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# (table, column): its own index dropped, its foreign key kept
FOREIGN_KEYS_WITHOUT_OWN_INDEX = [
    ("orders_order", "channel_id"),
    ("orders_orderline", "order_id"),
    ("orders_allocation", "location_id"),
    ("orders_idempotencyrecord", "channel_id"),
    ("inventory_stocklevel", "product_id"),
    ("inventory_stocklevel", "location_id"),
]
STATUS_TABLES = ["orders_order", "orders_orderline", "orders_allocation"]


def _indexes(table: str) -> list[tuple[str, list[str], str, bool]]:
    """(name, key columns in order, first column's operator class, partial) of each of the table's indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT i.relname, array_agg(a.attname ORDER BY k.n), min(opc.opcname) FILTER (WHERE k.n = 1),
                      x.indpred IS NOT NULL
               FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
               CROSS JOIN LATERAL unnest(x.indkey::int2[], x.indclass::oid[]) WITH ORDINALITY AS k(attnum, opclass, n)
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
               JOIN pg_opclass opc ON opc.oid = k.opclass
               WHERE x.indrelid = %s::regclass
               GROUP BY i.relname, x.indpred""",
            [table],
        )
        return [(name, list(columns), opclass, partial) for name, columns, opclass, partial in cursor.fetchall()]


def _foreign_key_columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT a.attname FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
               WHERE c.conrelid = %s::regclass AND c.contype = 'f' AND c.condeferrable AND c.condeferred""",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize(("table", "column"), FOREIGN_KEYS_WITHOUT_OWN_INDEX)
def test_a_covered_foreign_key_keeps_its_constraint_and_a_leading_index(table, column):
    assert column in _foreign_key_columns(table)
    indexes = _indexes(table)
    assert not [name for name, columns, _, _ in indexes if columns == [column]], "its own index is back"
    assert [name for name, columns, _, partial in indexes if columns[0] == column and not partial], (
        "no full index leads with the column: look-ups by it (and the key's checks on delete) would scan"
    )


@pytest.mark.parametrize("table", STATUS_TABLES)
def test_a_status_has_one_plain_index(table):
    status = [(name, opclass) for name, columns, opclass, partial in _indexes(table) if columns == ["status"] and not partial]
    assert len(status) == 1
    assert status[0][1] == "text_ops"  # the plain one (equality, IN); no varchar_pattern_ops copy


def test_large_json_columns_compress_with_lz4():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute
               WHERE (attrelid = 'orders_routingdecision'::regclass AND attname IN ('candidates', 'plan'))
                  OR (attrelid = 'orders_idempotencyrecord'::regclass AND attname = 'response_body')"""
        )
        assert sorted(cursor.fetchall()) == [
            ("orders_idempotencyrecord", "response_body", "l"),
            ("orders_routingdecision", "candidates", "l"),
            ("orders_routingdecision", "plan", "l"),
        ]


@pytest.mark.parametrize("app, migration", [("inventory", "0018_covered_fk_indexes"), ("orders", "0011_covered_fk_indexes")])
def test_dropping_a_foreign_keys_own_index_leaves_the_key_alone(app, migration):
    """A plain ``AlterField(db_index=False)`` would drop each foreign key and add it back, validating
    every row under a lock that blocks writes (``omni.db.field_index``); these migrations only drop
    an index, and reversed they create one."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("sqlmigrate", app, migration, stdout=out)
    assert "CONSTRAINT" not in out.getvalue()
    out = io.StringIO()
    call_command("sqlmigrate", app, migration, backwards=True, stdout=out)
    assert "CONSTRAINT" not in out.getvalue()
