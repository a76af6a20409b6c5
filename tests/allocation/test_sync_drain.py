"""Draining the outbox: coalescing per (channel, SKU), windows, velocity classes, sequences."""

from __future__ import annotations

import pytest
from django.utils import timezone

from allocation.models import ChannelSync, SyncMessage, SyncMode, SyncState
from allocation.sync.drain import sync_outbox_drain
from allocation.sync.publish import sync_batch_due, sync_channel_publish
from inventory import services as stock
from inventory.models import OutboxEvent, VelocityClass

from ..inventory.factories import LocationFactory, ProductFactory
from .sync_helpers import later, messages, sync_channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return LocationFactory(code="ST-01")


def test_burst_of_changes_to_one_sku_becomes_one_message_with_the_current_figure(store):
    web = sync_channel(code="web", locations=[store])
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=10)
    stock.stock_sell(product=tee, location=store, quantity=3)
    stock.stock_sell(product=tee, location=store, quantity=1)

    result = sync_outbox_drain()

    assert result.events == 3
    assert messages(web) == [("TEE", 1, 6, 6, "feed")]
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 0


def test_each_later_change_gets_the_next_sequence_and_its_delta(store):
    web = sync_channel(code="web", locations=[store])
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=10)
    sync_outbox_drain()
    stock.stock_sell(product=tee, location=store, quantity=4)
    sync_outbox_drain()
    stock.stock_receive(product=tee, location=store, quantity=1)
    sync_outbox_drain()

    assert messages(web) == [("TEE", 1, 10, 10, "feed"), ("TEE", 2, 6, -4, "feed"), ("TEE", 3, 7, 1, "feed")]


def test_a_change_that_leaves_the_channel_figure_unchanged_publishes_nothing_new(store):
    web = sync_channel(code="web", locations=[store])
    elsewhere = LocationFactory(code="DC-01")  # not visible to web
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=5)
    sync_outbox_drain()
    stock.stock_receive(product=tee, location=elsewhere, quantity=50)
    sync_outbox_drain()

    assert messages(web) == [("TEE", 1, 5, 5, "feed")]
    assert SyncState.objects.get(channel=web, product=tee).dirty_since is None


def test_near_realtime_channel_waits_for_its_window_then_sends_one_figure(store):
    web = sync_channel(code="web", locations=[store], mode=SyncMode.NEAR_REALTIME, window=30)
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=8)

    first = sync_outbox_drain()
    assert messages(web) == []
    assert 0 < first.next_due_in <= 30

    stock.stock_sell(product=tee, location=store, quantity=2)
    sync_outbox_drain(now=later(31))
    assert messages(web) == [("TEE", 1, 6, 6, "feed")]


def test_batch_channel_sends_fast_movers_now_and_slow_movers_with_its_batch(store):
    market = sync_channel(code="mkt", locations=[store], mode=SyncMode.BATCH)
    fast = ProductFactory(sku="FAST", velocity_class=VelocityClass.A)
    slow = ProductFactory(sku="SLOW", velocity_class=VelocityClass.C)
    stock.stock_receive(product=fast, location=store, quantity=3)
    stock.stock_receive(product=slow, location=store, quantity=4)

    sync_outbox_drain()
    assert messages(market) == [("FAST", 1, 3, 3, "feed")]

    assert sync_batch_due() == [market.id]
    assert messages(market) == [("FAST", 1, 3, 3, "feed"), ("SLOW", 1, 4, 4, "feed")]
    # the interval has not elapsed again: the next batch tick does nothing
    stock.stock_receive(product=slow, location=store, quantity=1)
    sync_outbox_drain()
    assert sync_batch_due() == []
    assert sync_batch_due(now=later(market.sync_interval_seconds + 1)) == [market.id]
    assert messages(market)[-1] == ("SLOW", 2, 5, 1, "feed")


def test_full_publish_catches_a_figure_that_moved_without_an_outbox_row(store):
    web = sync_channel(code="web", locations=[store])
    other = LocationFactory(code="ST-02")
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=2)
    stock.stock_receive(product=tee, location=other, quantity=5)
    sync_outbox_drain()
    assert messages(web) == [("TEE", 1, 2, 2, "feed")]

    from allocation.models import ChannelVisibility

    ChannelVisibility.objects.create(channel=web, location=other)  # a visibility change, no outbox row
    assert sync_channel_publish(channel=web, full=True) == 1
    assert messages(web)[-1] == ("TEE", 2, 7, 5, "feed")


def test_absolute_endpoint_holds_back_in_flight_orders_and_supersedes_undelivered_figures(store):
    mkt = sync_channel(code="mkt", locations=[store], url="http://127.0.0.1:9/none", endpoint_mode="absolute", holdback_units=2)
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=10)
    sync_outbox_drain()
    stock.stock_sell(product=tee, location=store, quantity=1)
    sync_outbox_drain()

    assert messages(mkt) == [("TEE", 1, 8, 8, "superseded"), ("TEE", 2, 7, -1, "pending")]
    assert ChannelSync.objects.get(channel=mkt).mode == "absolute"


def test_inactive_channel_gets_nothing(store):
    web = sync_channel(code="web", locations=[store])
    web.is_active = False
    web.save()
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=1)
    sync_outbox_drain()
    assert messages(web) == []
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 0


def test_batch_channel_with_full_batches_sends_every_figure_that_differs(store):
    market = sync_channel(code="mkt", locations=[store], mode=SyncMode.BATCH, batch_full=True)
    slow = ProductFactory(sku="SLOW", velocity_class=VelocityClass.C)
    idle = ProductFactory(sku="IDLE", velocity_class=VelocityClass.C)  # never changed: published once as 0
    stock.stock_receive(product=slow, location=store, quantity=4)
    sync_outbox_drain()
    assert messages(market) == []

    assert sync_batch_due() == [market.id]
    assert sorted(messages(market)) == [("IDLE", 1, 0, 0, "feed"), ("SLOW", 1, 4, 4, "feed")]
    assert idle.pk


def test_initial_load_sends_every_current_figure_with_a_new_sequence(store):
    web = sync_channel(code="web", locations=[store])
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=5)
    sync_outbox_drain()
    assert sync_channel_publish(channel=web, full=True) == 0  # nothing differs

    assert sync_channel_publish(channel=web, full=True, force=True) == 1
    assert messages(web) == [("TEE", 1, 5, 5, "feed"), ("TEE", 2, 5, 0, "feed")]


def _executed(queries: list[dict]) -> list[str]:
    """The statements of a connection that has its prepared statements already (as a worker's kept
    connection has): a ``PREPARE`` (and the session setting sent with the first) happens once per
    connection, or again after the full registry is emptied (``omni.prepared.MAX_STATEMENTS``). A
    ``PREPARE`` travels in front of its first ``EXECUTE`` (``omni.db``): that message is the
    ``EXECUTE``'s round trip, and counts."""
    out = []
    for q in queries:
        sql = q["sql"]
        if sql.startswith(("SAVEPOINT ", "RELEASE SAVEPOINT ")) and "; " in sql:
            sql = sql.split("; ", 1)[1]
        if sql.startswith("PREPARE ") and "; EXECUTE " in sql:
            out.append(q["sql"])
        elif not sql.startswith(("PREPARE ", "SET plan_cache_mode", "DEALLOCATE ALL")):
            out.append(q["sql"])
    return out


def test_a_drain_reads_the_outbox_once_and_opens_no_publish_for_a_window_still_open(store):
    """The drain the bench's orders wake (a near-real-time channel, a burst inside its window):
    one round, not a second one that finds the outbox empty, and no publish transaction for a
    channel with nothing due. 31 statements per drain before, 10 after the fourth pass, 8 round
    trips once the savepoint and its release travelled with the statements after them
    (omni.db.postgresql), 7 with the channels read with their locks (sixth pass)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from allocation.sync.drain import sync_drain_run

    web = sync_channel(code="web", locations=[store], mode=SyncMode.NEAR_REALTIME, window=30)
    products = [ProductFactory(sku=f"P{i}") for i in range(5)]
    for product in products:
        stock.stock_receive(product=product, location=store, quantity=8)

    # advisory lock, (savepoint +) the active channels with their ChannelSync rows locked, outbox
    # rows taken and marked (one statement), dirty marks, (release +) the dirty channels' oldest
    # marks with their windows; unlock, outbox re-check
    with CaptureQueriesContext(connection) as ctx:
        run = sync_drain_run()
    assert len(_executed(ctx.captured_queries)) == 7, _executed(ctx.captured_queries)

    assert run.events == 5
    assert 0 < run.next_due_in <= 30
    assert messages(web) == []
    assert SyncState.objects.filter(channel=web, dirty_since__isnull=False).count() == 5
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 0
    sync_outbox_drain(now=later(31))  # the window closed: every SKU's figure goes out once
    assert sorted(messages(web)) == [(f"P{i}", 1, 8, 8, "feed") for i in range(5)]


def test_an_event_for_a_channel_without_sync_settings_creates_them(store):
    from allocation.sync.publish import sync_event_publish

    from .factories import ChannelFactory

    bare = ChannelFactory(code="bare")
    ChannelSync.objects.filter(channel=bare).delete()

    first = sync_event_publish(channel=bare, kind="shipped", payload={"order": "A-1"})
    second = sync_event_publish(channel=bare, kind="shipped", payload={"order": "A-2"})

    assert (first.sequence, second.sequence) == (1, 2)
    assert ChannelSync.objects.get(channel=bare).event_sequence == 2


def test_a_drain_writes_its_messages_as_the_orm_would_in_the_order_of_the_sku_states(store):
    """The drain's messages go in with one prepared statement of their own, not ``bulk_create``:
    every column as ``bulk_create`` writes it, ids in the order of the SKUs' states (the feed's
    cursor)."""
    web = sync_channel(code="web", locations=[store], url="https://shop.example/hook")
    for i, sku in enumerate(["C", "A", "B"]):
        stock.stock_receive(product=ProductFactory(sku=sku), location=store, quantity=i + 1)
    before = timezone.now()

    sync_outbox_drain()

    written = list(SyncMessage.objects.filter(channel=web).order_by("id").values())
    states = list(SyncState.objects.filter(channel=web).order_by("id").values_list("product_id", "published"))
    assert [(m["product_id"], m["available"]) for m in written] == states
    assert [m["available"] for m in written] == [1, 2, 3]  # C, A, B: as their changes came
    assert {m["status"] for m in written} == {"pending"}
    assert all(m["created_at"] >= before for m in written)
    SyncMessage.objects.filter(channel=web).delete()
    SyncMessage.objects.bulk_create([
        SyncMessage(channel=web, kind="availability", product_id=m["product_id"], sequence=m["sequence"], available=m["available"],
                    delta=m["delta"], changed_at=m["changed_at"], status=m["status"]) for m in written])
    by_orm = list(SyncMessage.objects.filter(channel=web).order_by("id").values())

    def strip(rows):
        return [{k: v for k, v in row.items() if k not in ("id", "created_at")} for row in rows]

    assert strip(written) == strip(by_orm)
