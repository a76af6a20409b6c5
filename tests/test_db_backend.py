"""Omni's PostgreSQL backend (omni/db/postgresql): savepoints travel with the next statement, and
every transaction still behaves as Django's own — what rolls back rolls back, what commits stays."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, connection, transaction
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
    # the test's transaction opens with the first statement: its BEGIN rides in front
    sent = [q["sql"].removeprefix("BEGIN; ") for q in ctx.captured_queries]
    assert len(sent) == 2  # two inserts; the savepoint and its release rode on them
    assert sent[0].startswith('SAVEPOINT "') and statement_of(sent[0]).startswith('INSERT INTO "inventory_product"')
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


def test_a_parameter_the_driver_refuses_leaves_the_savepoint_to_roll_back_to():
    # psycopg refuses a NUL byte before sending anything: the SAVEPOINT meant to go with the
    # statement is still pending, the block rolls back cleanly and the transaction goes on.
    with pytest.raises(DataError):
        with transaction.atomic():
            Product.objects.create(sku="DB-\x00", name="nul")
    Product.objects.create(sku="DB-NEXT", name="next")
    assert _skus() == ["DB-NEXT"]


def test_savepoints_with_nothing_in_them_are_never_sent():
    with CaptureQueriesContext(connection) as ctx:
        with transaction.atomic():
            with transaction.atomic():
                pass
        with pytest.raises(ValueError):
            with transaction.atomic():
                raise ValueError("before any statement")  # rolled back, then released: neither is sent
        assert Product.objects.count() == 0
    # nothing rode in front of the count but the test's transaction's BEGIN
    assert [statement_of(q["sql"]) for q in ctx.captured_queries] == [q["sql"].removeprefix("BEGIN; ") for q in ctx.captured_queries]
    assert len(ctx.captured_queries) == 1


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


def _rename(sku: str, name: str) -> None:
    from omni.db import execute_deferred

    execute_deferred("UPDATE inventory_product SET name = %s WHERE sku = %s", [name, sku])


def _names() -> dict[str, str]:
    return dict(Product.objects.values_list("sku", "name"))


def test_a_deferred_write_rides_on_the_next_statement_and_is_seen_by_it():
    Product.objects.create(sku="DF-1", name="before")
    with CaptureQueriesContext(connection) as ctx:
        with transaction.atomic():
            _rename("DF-1", "after")
            assert _names() == {"DF-1": "after"}  # the read carries the write in front of it
    sent = [q["sql"] for q in ctx.captured_queries]
    assert len(sent) == 1 and sent[0].count("UPDATE inventory_product") == 1


def test_a_deferred_write_is_undone_with_its_savepoint_and_kept_with_a_released_one():
    Product.objects.create(sku="DF-2", name="first")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Product.objects.filter(sku="DF-2").exists()  # the savepoint is sent
            _rename("DF-2", "rolled back")
            raise RuntimeError("undo")
    assert _names() == {"DF-2": "first"}
    with transaction.atomic():
        _rename("DF-2", "kept")  # nothing else ran in this savepoint: it must still be created and released
    assert _names() == {"DF-2": "kept"}


@pytest.mark.django_db(transaction=True)
def test_a_deferred_write_with_nothing_after_it_is_committed():
    Product.objects.create(sku="DF-3", name="first")
    with CaptureQueriesContext(connection) as ctx:
        with transaction.atomic():
            _rename("DF-3", "committed")
    # one message: the write and the COMMIT
    assert [q["sql"] for q in ctx.captured_queries if "DF-3" in q["sql"] or "COMMIT" in q["sql"]] == [
        "UPDATE inventory_product SET name = 'committed' WHERE sku = 'DF-3'; COMMIT"]
    other = connection.settings_dict
    import psycopg

    with psycopg.connect(host=other["HOST"], port=other["PORT"] or 5432, user=other["USER"],
                         password=other["PASSWORD"] or None, dbname=other["NAME"]) as conn:
        assert conn.execute("SELECT name FROM inventory_product WHERE sku = 'DF-3'").fetchone() == ("committed",)


def test_a_long_statement_is_bound_as_psycopg_binds_it_and_split_once():
    """The backend keeps each statement's split text (psycopg keeps only short ones): the text sent
    is psycopg's own, value for value, for a statement past psycopg's 50 parameters and 4096 bytes;
    a second call with other values reuses the split."""
    import datetime
    from decimal import Decimal

    import psycopg

    from omni.db.postgresql.base import _client_template

    connection.ensure_connection()
    raw = connection.connection
    values = [*range(40), *(f"sku-{i}'s" for i in range(30)), None, True, -7, Decimal("12.50"), [1, 2, 3],
              datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.timezone.utc), "50%", "x" * 4000]
    sql = "SELECT " + ", ".join(["%s"] * len(values)) + " WHERE 'a%%' LIKE 'a%%'"
    ours, theirs = raw.cursor(), psycopg.ClientCursor(raw)
    assert ours.mogrify(sql, values) == theirs.mogrify(sql, values)
    hits = _client_template.cache_info().hits
    other = [*values[:-1], "y"]
    assert ours.mogrify(sql, other) == theirs.mogrify(sql, other)
    assert _client_template.cache_info().hits == hits + 1
    with connection.cursor() as cursor:  # and what the server gets answers as psycopg's would
        cursor.execute(sql, other)
        assert cursor.fetchone()[40:43] == ("sku-0's", "sku-1's", "sku-2's")


@pytest.mark.django_db(transaction=True)  # as a request runs: not inside a test's transaction
def test_a_read_sent_ahead_that_never_went_is_forgotten_when_the_request_ends():
    """A request that queued a read ahead and ended before sending anything (an order refused for
    its Idempotency-Key before any SQL) leaves nothing to ride on the next request's first
    statement on the same (kept) connection."""
    from django.core.signals import request_finished

    connection.ensure_connection()
    connection.read_ahead("SELECT count(*) FROM inventory_product WHERE sku = %s", ["NOPE"])
    assert connection._pending()  # queued, waiting for a next statement
    request_finished.send(sender=None)
    assert not connection._pending()
    with CaptureQueriesContext(connection) as ctx, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert [statement_of(q["sql"]) for q in ctx.captured_queries] == ["SELECT 1"]
    assert ctx.captured_queries[0]["sql"] == "SELECT 1"  # nothing rode in front of it


# --- BEGIN rides in front of the transaction's first statement (real transactions: transaction=True)

def _now_twice() -> tuple:
    """now() of two statements 10 ms apart: equal only inside one transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        first = cursor.fetchone()[0]
        cursor.execute("SELECT pg_sleep(0.01), now()")
        return first, cursor.fetchone()[1]


def _status() -> str:
    return connection.connection.info.transaction_status.name


@pytest.mark.django_db(transaction=True)
def test_begin_rides_on_the_first_statement_and_opens_a_real_transaction():
    with CaptureQueriesContext(connection) as ctx:
        with transaction.atomic():
            Product.objects.create(sku="TX-1", name="one")
            assert _status() == "INTRANS"
            first, second = _now_twice()
            assert first == second  # the statements after it run in the transaction it opened
    sent = [q["sql"] for q in ctx.captured_queries]
    assert sent[0] == "BEGIN"  # Django's log of set_autocommit(False): nothing was sent for it
    assert sent[1].startswith('BEGIN; INSERT INTO "inventory_product"')
    assert not any(s.startswith("BEGIN") for s in sent[2:-1])
    assert _status() == "IDLE" and _skus() == ["TX-1"]
    # outside a transaction, statements carry no BEGIN and leave none open
    with CaptureQueriesContext(connection) as ctx:
        first, second = _now_twice()
    assert first != second and _status() == "IDLE"
    assert not any("BEGIN" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_begun_in_a_statements_text_rolls_back_whole():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Product.objects.create(sku="TX-GONE", name="gone")
            with transaction.atomic():
                Product.objects.create(sku="TX-GONE-2", name="gone")
            raise RuntimeError("undo")
    assert _status() == "IDLE" and _skus() == []
    with transaction.atomic():  # the next transaction begins again with its first statement
        Product.objects.create(sku="TX-NEXT", name="next")
        assert _status() == "INTRANS"
    assert _skus() == ["TX-NEXT"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad_sql", ["SELECT 1/0", "SELEC 1", "SELECT 1; SELEC 2"])
def test_a_first_statement_that_fails_leaves_the_transaction_aborted_as_sent_alone(bad_sql):
    # "SELEC 1" does not parse: PostgreSQL runs none of "BEGIN; SELEC 1", not even the BEGIN; the
    # backend replays BEGIN alone and the text, so the transaction is aborted as it was before
    from django.db import DatabaseError, InternalError

    with pytest.raises(InternalError):  # in a failed transaction, the next statement is refused
        with transaction.atomic():
            with connection.cursor() as cursor:
                with pytest.raises(DatabaseError):
                    cursor.execute(bad_sql)
                assert _status() == "INERROR"
                cursor.execute("SELECT 1")
    assert _status() == "IDLE"
    with transaction.atomic():
        Product.objects.create(sku="TX-AFTER", name="after")
    assert _skus() == ["TX-AFTER"]


@pytest.mark.django_db(transaction=True)
def test_a_refused_parameter_or_a_closed_cursor_leaves_the_begin_to_the_next_statement():
    with pytest.raises(DataError):
        with transaction.atomic():
            Product.objects.create(sku="TX-\x00", name="nul")  # refused before anything is sent
    assert _status() == "IDLE"
    Product.objects.create(sku="TX-SAME", name="same")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            cursor = connection.cursor()
            cursor.close()
            with pytest.raises(Exception):
                cursor.execute("SELECT 1")  # refused by the closed cursor, after the BEGIN was planned
            with connection.cursor() as other:  # psycopg's own BEGIN, not skipped
                other.executemany("UPDATE inventory_product SET name = %s WHERE sku = %s", [("changed", "TX-SAME")])
            assert _status() == "INTRANS"
            raise RuntimeError("undo")
    assert _status() == "IDLE"
    assert list(Product.objects.values_list("name", flat=True)) == ["same"]


@pytest.mark.django_db(transaction=True)
def test_autocommit_switches_by_hand_commit_and_roll_back():
    connection.set_autocommit(False)
    try:
        Product.objects.create(sku="TX-ROLLED", name="rolled")
        assert _status() == "INTRANS"
        connection.rollback()
        Product.objects.create(sku="TX-KEPT", name="kept")
        first, second = _now_twice()
        assert first == second
        connection.commit()
        assert _status() == "IDLE"
    finally:
        connection.set_autocommit(True)
    Product.objects.create(sku="TX-AUTO", name="auto")
    assert _status() == "IDLE"
    assert _skus() == ["TX-AUTO", "TX-KEPT"]


@pytest.mark.django_db(transaction=True)
def test_the_isolation_level_rides_with_the_begin():
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            assert cursor.fetchone()[0] == "repeatable read"
    finally:
        raw.isolation_level = None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        assert cursor.fetchone()[0] == "read committed"


@pytest.mark.django_db(transaction=True)
def test_executemany_copy_and_server_side_cursors_first_in_a_transaction_get_psycopgs_begin():
    with pytest.raises(RuntimeError):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany("UPDATE inventory_product SET name = %s WHERE sku = %s", [("x", "TX-NONE"), ("y", "TX-NONE")])
            assert _status() == "INTRANS"
            first, second = _now_twice()
            assert first == second
            raise RuntimeError("undo")
    assert _status() == "IDLE"
    with pytest.raises(RuntimeError):
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.copy("COPY (SELECT 1) TO STDOUT") as copy:
                list(copy)
            assert _status() == "INTRANS"
            Product.objects.create(sku="TX-COPY", name="copy")
            raise RuntimeError("undo")
    assert _skus() == []
    Product.objects.create(sku="TX-ITER", name="iter")
    with transaction.atomic():
        assert [p.sku for p in Product.objects.all().iterator(chunk_size=1)] == ["TX-ITER"]  # a named cursor
        first, second = _now_twice()
        assert first == second
    assert _status() == "IDLE"


@pytest.mark.django_db(transaction=True)
def test_a_psycopg_transaction_block_inside_a_begun_transaction_is_a_savepoint():
    connection.ensure_connection()
    raw = connection.connection
    with transaction.atomic():
        Product.objects.create(sku="TX-DJ", name="django")
        with pytest.raises(RuntimeError):
            with raw.transaction():
                raw.execute("UPDATE inventory_product SET name = 'psycopg' WHERE sku = 'TX-DJ'")
                raise RuntimeError("undo the block only")
        assert _status() == "INTRANS"
    assert list(Product.objects.values_list("sku", "name")) == [("TX-DJ", "django")]


@pytest.mark.django_db(transaction=True)
def test_the_driver_used_directly_first_in_a_transaction_still_opens_it():
    # what sank an earlier try (the driver kept in autocommit, BEGIN sent late): code using psycopg
    # directly inside atomic() ran each statement in a transaction of its own. psycopg stays out of
    # autocommit here; only a statement of Omni's cursor carries the BEGIN in its text.
    import psycopg

    connection.ensure_connection()
    with transaction.atomic():
        with psycopg.Cursor(connection.connection) as cursor:  # a plain driver cursor, server-side binding
            cursor.execute("SELECT now()")
            first = cursor.fetchone()[0]
            cursor.execute("SELECT pg_sleep(0.01), now()")
            second = cursor.fetchone()[1]
        assert first == second and _status() == "INTRANS"
