"""Omni's PostgreSQL backend (omni/db/postgresql): savepoints travel with the next statement, and
every transaction still behaves as Django's own — what rolls back rolls back, what commits stays."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory.models import Product
from omni.db.postgresql.base import statement_of

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _skus() -> list[str]:
    return sorted(Product.objects.values_list("sku", flat=True))


def test_a_savepoint_costs_no_round_trip_of_its_own():
    with CaptureQueriesContext(connection) as ctx:
        with transaction.atomic():
            Product.objects.create(sku="DB-1", name="one")
        Product.objects.create(sku="DB-2", name="two")
    sent = [q["sql"] for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(sent) == 2  # two inserts; the savepoint and its release rode on them
    assert 'SAVEPOINT "' in sent[0].split("INSERT")[0] and statement_of(sent[0]).startswith('INSERT INTO "inventory_product"')
    assert sent[1].startswith('RELEASE SAVEPOINT "') and "DB-2" in statement_of(sent[1])
    assert _skus() == ["DB-1", "DB-2"]


def test_what_a_rolled_back_savepoint_wrote_is_gone_and_the_rest_stays():
    Product.objects.create(sku="DB-KEEP", name="kept")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Product.objects.create(sku="DB-GONE", name="gone")
            raise RuntimeError("undo")
    assert _skus() == ["DB-KEEP"]


def test_a_failing_statement_rolls_back_to_the_savepoint_sent_with_it():
    Product.objects.create(sku="DB-DUP", name="first")
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            Product.objects.create(sku="DB-DUP", name="again")  # sent as "SAVEPOINT …; INSERT …", the insert fails
    Product.objects.create(sku="DB-AFTER", name="after")  # the transaction goes on
    assert _skus() == ["DB-AFTER", "DB-DUP"]


def test_savepoints_with_nothing_in_them_are_never_sent():
    with CaptureQueriesContext(connection) as ctx:
        with transaction.atomic():
            with transaction.atomic():
                pass
        with pytest.raises(ValueError):
            with transaction.atomic():
                raise ValueError("before any statement")  # rolled back, then released: neither is sent
        assert Product.objects.count() == 0
    sent = [q["sql"] for q in ctx.captured_queries]
    assert len(sent) == 1 and "SAVEPOINT" not in sent[0]


def test_nested_savepoints_keep_their_own_outcome():
    with transaction.atomic():
        Product.objects.create(sku="DB-OUTER", name="outer")
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                Product.objects.create(sku="DB-INNER", name="inner")
                with transaction.atomic():
                    Product.objects.create(sku="DB-INNERMOST", name="innermost")
                raise RuntimeError("undo the inner block")
        with transaction.atomic():
            Product.objects.create(sku="DB-SIBLING", name="sibling")
    assert _skus() == ["DB-OUTER", "DB-SIBLING"]


def test_a_server_side_cursor_and_copy_run_after_what_is_pending():
    Product.objects.create(sku="DB-SEEN", name="seen")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            # a named cursor (iterator) and COPY go to the driver another way: the pending SAVEPOINT
            # is sent before them, so rolling it back undoes what COPY wrote
            with connection.cursor() as cursor:
                with cursor.cursor.copy("COPY inventory_product (sku, name, barcode, velocity_class, unit_cost, price, "
                                        "lead_time_days, season, is_active, created_at) FROM STDIN") as copy:
                    copy.write_row(("DB-COPIED", "copied", "", "B", 0, 0, 7, "", True, "2026-01-01T00:00:00Z"))
            assert [p.sku for p in Product.objects.order_by("sku").iterator(chunk_size=1)] == ["DB-COPIED", "DB-SEEN"]
            assert _skus() == ["DB-COPIED", "DB-SEEN"]
            raise RuntimeError("undo the copy")
    assert _skus() == ["DB-SEEN"]


# Transactions: the driver stays in autocommit and BEGIN rides on the transaction's first statement.


def _committed_skus() -> list[str]:
    """What another connection sees: only committed rows."""
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                         password=settings["PASSWORD"] or None, dbname=settings["NAME"]) as other:
        return sorted(row[0] for row in other.execute("SELECT sku FROM inventory_product"))


@pytest.mark.django_db(transaction=True)
def test_a_transaction_commits_what_it_wrote_and_a_failed_one_nothing():
    with transaction.atomic():
        Product.objects.create(sku="TX-KEPT", name="kept")
        assert _committed_skus() == []  # not before the commit
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Product.objects.create(sku="TX-GONE", name="gone")
            raise RuntimeError("roll back")
    assert _committed_skus() == ["TX-KEPT"]


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_runs_nothing_never_reaches_the_server():
    from psycopg.pq import TransactionStatus

    with transaction.atomic():
        with transaction.atomic():
            pass
        assert connection.connection.info.transaction_status == TransactionStatus.IDLE  # no BEGIN sent
        Product.objects.create(sku="TX-1", name="one")
        assert connection.connection.info.transaction_status == TransactionStatus.INTRANS
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert _committed_skus() == ["TX-1"]


@pytest.mark.django_db(transaction=True)
def test_manual_transactions_open_the_next_one_after_a_commit_or_rollback():
    transaction.set_autocommit(False)
    try:
        Product.objects.create(sku="TX-A", name="a")
        transaction.commit()
        Product.objects.create(sku="TX-B", name="b")  # a new transaction: rolled back below
        transaction.rollback()
        Product.objects.create(sku="TX-C", name="c")
        assert _committed_skus() == ["TX-A"]
        transaction.commit()
    finally:
        transaction.set_autocommit(True)
    assert _committed_skus() == ["TX-A", "TX-C"]


@pytest.mark.django_db(transaction=True)
def test_a_named_cursor_inside_a_transaction_is_not_held_past_it():
    Product.objects.bulk_create([Product(sku=f"TX-N{i}", name="n") for i in range(5)])
    with transaction.atomic():
        rows = Product.objects.order_by("sku").iterator(chunk_size=2)
        assert next(rows).sku == "TX-N0"  # the named cursor is open
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), count(*) FILTER (WHERE is_holdable) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
            assert cursor.fetchone() == (1, 0)
        assert [p.sku for p in rows] == [f"TX-N{i}" for i in range(1, 5)]
