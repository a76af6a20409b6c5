"""The order path's tables carry no index another index covers, and keep every foreign key
(``orders`` 0011–0014, ``inventory`` 0018–0020, ``fulfillment`` 0010, ``allocation`` 0009): what the
eighth pass dropped was only redundant, or read by nothing."""

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
    ("fulfillment_work", "location_id"),
    ("allocation_syncstate", "channel_id"),
    ("allocation_syncmessage", "channel_id"),
    ("inventory_stockmovement", "stock_level_id"),
]
# (table, index): dropped because nothing reads through it
UNREAD_INDEXES = [
    ("fulfillment_workevent", "fulfillment_workevent_at_f6edf22b"),
    ("inventory_reservation", "inventory_reservation_reference_29d35f27"),
    ("inventory_reservation", "inventory_reservation_reference_29d35f27_like"),  # the pattern one: renamed reservation_reference
    ("orders_allocation", "orders_allocation_created_at_2dd425ff"),
    ("inventory_stockmovement", "inventory_stockmovement_reason_95318321_like"),  # the plain one: movement_reason
]
# the tables an order and the sync worker write
WRITTEN_TABLES = [
    "orders_order", "orders_orderline", "orders_allocation", "orders_orderevent", "orders_routingdecision",
    "orders_idempotencyrecord", "inventory_stocklevel", "inventory_reservation", "inventory_outboxevent",
    "fulfillment_work", "fulfillment_workline", "fulfillment_workevent", "allocation_syncstate", "allocation_syncmessage",
    "inventory_stockmovement",
]
STATUS_TABLES = ["orders_order", "orders_orderline", "orders_allocation"]
# keys left without an index on purpose, before this pass: an outbox row is read only through
# ``outbox_pending`` and a location is never deleted while it has stock (inventory 0006)
UNINDEXED_FOREIGN_KEYS = {("inventory_outboxevent", "location_id")}


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


def _model_foreign_key_columns(table: str) -> set[str]:
    from django.apps import apps

    (model,) = [m for m in apps.get_models() if m._meta.db_table == table]
    return {f.column for f in model._meta.concrete_fields if f.is_relation and f.db_constraint}


@pytest.mark.parametrize("table", WRITTEN_TABLES)
def test_every_foreign_key_of_a_written_table_is_kept_and_leads_an_index(table):
    """Dropping indexes kept every key: each one the models declare is a deferrable constraint, and
    some index leads with its column (look-ups by it, and the key's checks on delete, do not scan)."""
    keys = _model_foreign_key_columns(table)
    assert keys <= _foreign_key_columns(table)
    expected = {column for column in keys if (table, column) not in UNINDEXED_FOREIGN_KEYS}
    leading = {columns[0] for _, columns, _, _ in _indexes(table)}
    assert expected <= leading, f"no index leads with {sorted(expected - leading)}"


@pytest.mark.parametrize(("table", "index"), UNREAD_INDEXES)
def test_an_unread_index_stays_dropped(table, index):
    assert index not in [name for name, _, _, _ in _indexes(table)]


def test_a_reservation_reference_has_one_pattern_index_serving_startswith_and_equality():
    """The ledger's orphan check reads open reservations by ``reference`` prefix; the pattern index
    serves that and equality (the plain index it replaced served neither a prefix here)."""
    assert [(columns, opclass) for _, columns, opclass, _ in _indexes("inventory_reservation") if columns == ["reference"]] == [
        (["reference"], "varchar_pattern_ops")
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for where in ("reference LIKE 'order-line:%%'", "reference = 'order-line:1'"):
            cursor.execute(f"EXPLAIN SELECT id FROM inventory_reservation WHERE {where}")  # noqa: S608
            assert "reservation_reference" in " ".join(row[0] for row in cursor.fetchall()), where


@pytest.mark.parametrize(("table", "column"), FOREIGN_KEYS_WITHOUT_OWN_INDEX)
def test_a_covered_foreign_key_keeps_its_constraint_and_a_leading_index(table, column):
    assert column in _foreign_key_columns(table)
    indexes = _indexes(table)
    assert not [name for name, columns, _, _ in indexes if columns == [column]], "its own index is back"
    assert [name for name, columns, _, partial in indexes if columns[0] == column and not partial], (
        "no full index leads with the column: look-ups by it (and the key's checks on delete) would scan"
    )


@pytest.mark.parametrize(("table", "column"), [*((table, "status") for table in STATUS_TABLES), ("inventory_stockmovement", "reason")])
def test_a_status_has_one_plain_index(table, column):
    status = [(name, opclass) for name, columns, opclass, partial in _indexes(table) if columns == [column] and not partial]
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


@pytest.mark.parametrize("app, migration", [
    ("inventory", "0018_covered_fk_indexes"), ("orders", "0011_covered_fk_indexes"),
    ("allocation", "0009_covered_channel_indexes"), ("fulfillment", "0010_fewer_work_indexes"),
    ("inventory", "0020_movement_fewer_indexes"),
])
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
