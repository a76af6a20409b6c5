"""``omni.prepared`` on Omni's backend: a statement's ``PREPARE`` rides on its first ``EXECUTE``
(no round trip of its own), and the connection's registry of prepared statements stays true to
the server's whatever happens to the message that carried it (a rollback does not undo a
``PREPARE``, a ``PREPARE`` never sent does not exist)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory.models import Product
from omni.db.postgresql.base import statement_of
from omni.prepared import execute_prepared, prepared_name

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

_INSERT = ('INSERT INTO "inventory_product" ("sku", "name", "barcode", "velocity_class", "unit_cost", "price", '
           '"lead_time_days", "season", "is_active", "created_at") '
           "VALUES (%s, %s, '', 'C', 0, 0, 0, '', true, now()) RETURNING id")
_COUNT = 'SELECT count(*) FROM "inventory_product" WHERE sku LIKE %s'


def _insert(sku: str, *, repeated_only: bool = False) -> int:
    with connection.cursor() as cursor:
        execute_prepared(cursor, _INSERT, [sku, f"name {sku}"], prefix="omni_test_", repeated_only=repeated_only)
        return cursor.fetchone()[0]


def _count(pattern: str) -> int:
    with connection.cursor() as cursor:
        execute_prepared(cursor, _COUNT, [pattern], prefix="omni_test_")
        return cursor.fetchone()[0]


def _server_has(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [name])
        return cursor.fetchone()[0] == 1


@pytest.fixture(autouse=True)
def _fresh_statements():
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    from omni.db import prepared_names

    prepared_names(connection.connection).clear()


def test_the_prepare_rides_on_the_first_execute():
    with CaptureQueriesContext(connection) as ctx:
        assert _count("PR-%") == 0
        assert _count("PR-%") == 0
    sent = [q["sql"] for q in ctx.captured_queries]
    assert len(sent) == 2
    assert sent[0].startswith("PREPARE omni_test_") and "LIKE $1; EXECUTE omni_test_" in sent[0]
    assert statement_of(sent[0]) == statement_of(sent[1]) == sent[1]
    assert sent[1].startswith("EXECUTE omni_test_") and sent[1].endswith("('PR-%')")
    # the session plans it generically (set when the connection opened, not per statement)
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"


def test_a_prepare_dropped_unsent_is_prepared_again():
    with connection.cursor() as cursor, pytest.raises(RuntimeError), transaction.atomic():
        Product.objects.count()  # the savepoint below is the next thing pending
        with transaction.atomic():
            name = prepared_name(cursor, _COUNT, prefix="omni_test_")  # pending, in front of nothing yet
            raise RuntimeError("undo before anything was sent")
    assert not _server_has(name)
    assert _count("%") == Product.objects.count()  # prepared again, with its execute


def test_a_failed_message_that_carried_a_prepare_leaves_the_statement_usable():
    _insert("PR-A")  # plain: prepared in front of its first execute
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    from omni.db import prepared_names

    prepared_names(connection.connection).clear()
    # "PREPARE …; EXECUTE …" where the EXECUTE fails: the PREPARE ran, the registry cannot know
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert("PR-A")
    assert _insert("PR-B") > 0
    assert sorted(Product.objects.filter(sku__startswith="PR-").values_list("sku", flat=True)) == ["PR-A", "PR-B"]


def test_a_statement_of_varying_shape_is_prepared_once_it_repeats():
    with CaptureQueriesContext(connection) as ctx:
        first = _insert("PR-1", repeated_only=True)
        second = _insert("PR-2", repeated_only=True)
        third = _insert("PR-3", repeated_only=True)
    sent = [statement_of(q["sql"]) for q in ctx.captured_queries]
    assert sent[0].startswith('INSERT INTO "inventory_product"') or sent[0].startswith("EXECUTE omni_test_")
    assert sent[1].startswith("EXECUTE omni_test_") and sent[2].startswith("EXECUTE omni_test_")
    assert first < second < third
    assert list(Product.objects.filter(sku__startswith="PR-").order_by("pk").values_list("sku", "name")) == [
        ("PR-1", "name PR-1"), ("PR-2", "name PR-2"), ("PR-3", "name PR-3")]


def test_a_read_sent_ahead_rides_on_the_next_statement():
    from omni.prepared import fetch_prepared, read_ahead_prepared

    _insert("RA-1")
    with CaptureQueriesContext(connection) as ctx:
        read_ahead_prepared(_COUNT, ["RA-%"], prefix="omni_test_")
        _insert("RA-2")  # carries the read, which runs before it
        assert fetch_prepared(_COUNT, ["RA-%"], prefix="omni_test_") == [(1,)]
    assert len(ctx.captured_queries) == 1 and "LIKE $1; EXECUTE omni_test_" in ctx.captured_queries[0]["sql"]
    # taken once: asked again, it is read now
    with CaptureQueriesContext(connection) as ctx:
        assert fetch_prepared(_COUNT, ["RA-%"], prefix="omni_test_") == [(2,)]
    assert len(ctx.captured_queries) == 1


def test_rows_read_ahead_are_forgotten_once_anything_else_is_sent():
    from omni.prepared import fetch_prepared, read_ahead_prepared

    read_ahead_prepared(_COUNT, ["RF-%"], prefix="omni_test_")
    _insert("RF-1")  # carries the read: 0 then
    _insert("RF-2")
    with CaptureQueriesContext(connection) as ctx:
        assert fetch_prepared(_COUNT, ["RF-%"], prefix="omni_test_") == [(2,)]  # not the stale 0
    assert len(ctx.captured_queries) == 1
    # other parameters are another read
    read_ahead_prepared(_COUNT, ["RF-1"], prefix="omni_test_")
    _insert("RF-3")
    assert fetch_prepared(_COUNT, ["RF-%"], prefix="omni_test_") == [(3,)]


@pytest.mark.django_db(transaction=True)
def test_a_read_pending_when_a_transaction_opens_goes_with_its_first_statement():
    from omni.prepared import fetch_prepared, read_ahead_prepared

    try:
        read_ahead_prepared(_COUNT, ["RT-%"], prefix="omni_test_")
        with CaptureQueriesContext(connection) as ctx, transaction.atomic():
            _insert("RT-1")
            assert fetch_prepared(_COUNT, ["RT-%"], prefix="omni_test_") == [(0,)]
        assert [q["sql"] for q in ctx.captured_queries if "omni_test_" in q["sql"]][0].count("EXECUTE") == 2
        assert fetch_prepared(_COUNT, ["RT-%"], prefix="omni_test_") == [(1,)]
    finally:
        Product.objects.filter(sku__startswith="RT-").delete()
