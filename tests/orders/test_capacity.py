"""A location's daily capacity is claimed like stock: a per-location, per-local-day counter taken
with a conditional update in the order's transaction. Orders never overbook it, even racing; a
cancelled order gives its slot back; availability and BOPIS store choice leave a full store out."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
import time_machine
from django.utils import timezone

from allocation.availability.pickup import pickup_options
from allocation.selectors import atp_for_channel
from allocation.sync.drain import sync_outbox_drain
from allocation.sync.models import MessageKind, SyncMessage
from inventory.models import LocationDayLoad, OutboxEvent
from inventory.selectors import capacity_used, local_day, locations_at_capacity
from inventory.services import capacity_reopenings_announce, ledger_check, location_capacity_set
from omni.errors import InsufficientStock
from orders.models import Allocation, AllocationStatus, Order
from orders.services import allocation_reject, order_cancel, order_create

from .factories import ChannelFactory, LocationFactory, ProductFactory, make_visible, order_input, receive
from .test_concurrency import run_threads


def used_at(location) -> int:
    return capacity_used(location_ids=[location.pk]).get(location.pk, 0)


def orders_at(location) -> int:
    return Order.objects.filter(lines__allocations__location=location,
                                lines__allocations__status=AllocationStatus.RESERVED).distinct().count()


@pytest.fixture
def shop(db):
    web = ChannelFactory(code="web")
    store = LocationFactory(code="ST-CAP", kind="store", latitude=41.0, longitude=29.0, daily_capacity=2, can_pickup=True,
                            timezone="Europe/Istanbul")
    dc = LocationFactory(code="DC-FAR", kind="dc", latitude=39.9, longitude=32.8)
    tee = ProductFactory(sku="TEE")
    receive(tee, store, 50)
    make_visible(web, store)
    return web, store, dc, tee


def test_orders_claim_the_store_capacity_and_the_next_one_is_refused(shop):
    web, store, _dc, _tee = shop
    order_create(channel=web, data=order_input("O-1", ("TEE", 1)))
    order_create(channel=web, data=order_input("O-2", ("TEE", 3)))
    assert used_at(store) == 2
    with pytest.raises(InsufficientStock) as err:
        order_create(channel=web, data=order_input("O-3", ("TEE", 1)))
    assert err.value.code == "insufficient_stock"  # the full store's stock is not promised (ATP) any more
    assert Order.objects.count() == 2 and used_at(store) == 2
    assert LocationDayLoad.objects.get(location=store).day == local_day("Europe/Istanbul")


@pytest.mark.postgres
def test_the_capacity_claim_is_a_statement_prepared_once_per_connection(shop):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omni.db.postgresql.base import statement_of

    web, store, _dc, _tee = shop
    with CaptureQueriesContext(connection) as ctx:
        order_create(channel=web, data=order_input("O-P1", ("TEE", 1)))
        order_create(channel=web, data=order_input("O-P2", ("TEE", 1)))
    claims = [q["sql"] for q in ctx.captured_queries if "omni_cap_" in q["sql"]]
    # (prepared with the first claim, or by an earlier test on this kept connection)
    assert len(claims) == 2 and all(statement_of(c).startswith("EXECUTE omni_cap_") for c in claims)
    assert "PREPARE" not in claims[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'omni_cap_%%'")
        assert cursor.fetchone()[0] == 1
    assert used_at(store) == 2
    with pytest.raises(InsufficientStock):  # the prepared claim refuses the third as the plain one did
        order_create(channel=web, data=order_input("O-P3", ("TEE", 1)))
    assert used_at(store) == 2


def test_a_full_store_is_skipped_by_routing_when_another_location_can_serve(shop):
    web, store, dc, tee = shop
    receive(tee, dc, 50)
    make_visible(web, store, dc)
    codes = []
    for i in range(4):
        order = order_create(channel=web, data=order_input(f"O-{i}", ("TEE", 1)))
        codes.append(Allocation.objects.get(line__order=order).location.code)
    assert codes.count("ST-CAP") == 2 and codes.count("DC-FAR") == 2


def test_cancelling_an_order_before_fulfilment_gives_its_slot_back(shop):
    web, store, _dc, _tee = shop
    first = order_create(channel=web, data=order_input("O-1", ("TEE", 1)))
    order_create(channel=web, data=order_input("O-2", ("TEE", 1)))
    order_cancel(order=first, reason="customer changed their mind")
    assert used_at(store) == 1
    order_create(channel=web, data=order_input("O-3", ("TEE", 1)))
    assert used_at(store) == 2 == orders_at(store)


def test_availability_and_pickup_leave_out_a_store_with_no_capacity_left(shop):
    web, store, _dc, tee = shop
    pos = ChannelFactory(code="pos", kind="pos")
    make_visible(pos, store)
    assert atp_for_channel(channel=web, product_ids=[tee.pk]) == {tee.pk: 50}
    assert [o.location.code for o in pickup_options(channel=web, product_ids=[tee.pk], lat=41.0, lon=29.0, radius_km=10)] == ["ST-CAP"]
    order_create(channel=web, data=order_input("O-1", ("TEE", 1)))
    order_create(channel=web, data=order_input("O-2", ("TEE", 1)))
    assert locations_at_capacity() == {store.pk}
    assert atp_for_channel(channel=web, product_ids=[tee.pk]).get(tee.pk, 0) == 0
    assert atp_for_channel(channel=pos, product_ids=[tee.pk]) == {tee.pk: 48}  # a till sale needs no capacity
    assert pickup_options(channel=web, product_ids=[tee.pk], lat=41.0, lon=29.0, radius_km=10) == []


def test_capacity_is_counted_per_local_day_of_the_location(db):
    tokyo = LocationFactory(code="ST-TYO", timezone="Asia/Tokyo", daily_capacity=1)
    late_utc = datetime(2026, 3, 1, 20, 0, tzinfo=dt_timezone.utc)  # already March 2nd in Tokyo
    LocationDayLoad.objects.create(location=tokyo, day=datetime(2026, 3, 2).date(), orders=1)
    assert capacity_used(location_ids=[tokyo.pk], now=late_utc) == {tokyo.pk: 1}
    assert locations_at_capacity(now=late_utc) == {tokyo.pk}
    early_utc = datetime(2026, 3, 1, 10, 0, tzinfo=dt_timezone.utc)  # still March 1st there
    assert capacity_used(location_ids=[tokyo.pk], now=early_utc) == {}
    assert local_day("Not/A_Zone", late_utc) == late_utc.date()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_orders_never_overbook_a_small_capacity():
    web = ChannelFactory(code="race-web")
    store = LocationFactory(code="ST-RACE", kind="store", latitude=41.0, longitude=29.0, daily_capacity=5, timezone="Europe/Istanbul")
    make_visible(web, store)
    skus = [ProductFactory(sku=f"RACE-{i}") for i in range(3)]
    for sku in skus:
        receive(sku, store, 100)

    def place(i):
        try:
            order_create(channel=web, data=order_input(f"R-{i}", (f"RACE-{i % 3}", 1), (f"RACE-{(i + 1) % 3}", 1)))
            return "ok"
        except InsufficientStock as exc:
            return exc.code

    results = run_threads(16, place)
    assert not [r for r in results if isinstance(r, Exception)], results
    counts = Counter(results)
    assert counts["ok"] == 5, counts
    assert used_at(store) == 5 == orders_at(store) == Order.objects.count()
    assert ledger_check() == []


def _drain() -> None:
    """Drain the outbox and publish now (past the channel's 2 s coalescing window)."""
    sync_outbox_drain(now=timezone.now() + timedelta(minutes=1))


def _figure(channel, product) -> int | None:
    """The last availability figure the channel was sent for this SKU."""
    msg = SyncMessage.objects.filter(channel=channel, product=product, kind=MessageKind.AVAILABILITY).order_by("-id").first()
    return None if msg is None else msg.available


def test_a_store_filling_up_today_republishes_its_other_skus_and_freeing_a_slot_brings_them_back(shop):
    web, store, _dc, _tee = shop
    mug = ProductFactory(sku="MUG-CAP")
    receive(mug, store, 10)  # nobody orders it: only the store's capacity moves its figure
    _drain()
    assert _figure(web, mug) == 10
    order_create(channel=web, data=order_input("O-1", ("TEE", 1)))
    _drain()
    assert _figure(web, mug) == 10 and not OutboxEvent.objects.filter(reason="capacity").exists()

    last = order_create(channel=web, data=order_input("O-2", ("TEE", 1)))  # the store's last slot today
    assert set(OutboxEvent.objects.filter(reason="capacity", processed_at__isnull=True).values_list(
        "product__sku", "location_id")) == {("TEE", store.pk), ("MUG-CAP", store.pk)}
    _drain()
    assert _figure(web, mug) == 0  # the channel no longer promises what the full store cannot ship today

    order_cancel(order=last, reason="customer changed their mind")  # a slot frees: the figure comes back
    _drain()
    assert _figure(web, mug) == 10


def test_changing_a_store_capacity_republishes_its_skus(shop):
    web, store, _dc, tee = shop
    _drain()
    location_capacity_set(location=store, daily_capacity=0)  # paused: nothing promised from it
    assert OutboxEvent.objects.filter(reason="capacity", product=tee, processed_at__isnull=True).exists()
    _drain()
    assert _figure(web, tee) == 0
    location_capacity_set(location=store, daily_capacity=0)  # the same figure again: nothing to republish
    assert not OutboxEvent.objects.filter(processed_at__isnull=True).exists()


def test_a_fully_rejected_allocation_gives_its_capacity_slot_back(shop):
    web, store, dc, tee = shop
    receive(tee, dc, 50)
    make_visible(web, store, dc)
    first = order_create(channel=web, data=order_input("O-1", ("TEE", 1)))
    order_create(channel=web, data=order_input("O-2", ("TEE", 1)))
    assert used_at(store) == 2
    alloc = Allocation.objects.get(line__order=first)
    assert alloc.location == store
    result = allocation_reject(allocation=alloc, reason="not found")
    assert [a.location.code for a in result.allocations] == ["DC-FAR"]
    assert used_at(store) == 1  # the order left the store: its slot serves the next order
    third = order_create(channel=web, data=order_input("O-3", ("TEE", 1)))
    assert Allocation.objects.get(line__order=third).location == store
    assert ledger_check() == []


def test_a_partly_rejected_allocation_keeps_its_slot(shop):
    web, store, _dc, _tee = shop
    order = order_create(channel=web, data=order_input("O-1", ("TEE", 3)))
    alloc = Allocation.objects.get(line__order=order)
    allocation_reject(allocation=alloc, quantity=1, reason="damaged", reroute=False)
    assert used_at(store) == 1  # two units are still picked there


def test_a_store_full_yesterday_is_announced_again_at_its_local_midnight(shop):
    """Nothing claims or releases a slot at midnight, yet the full store's stock is promised again:
    the quarter-hourly beat job writes the capacity outbox rows in the first run of its new day."""
    web, store, dc, tee = shop  # Istanbul, UTC+3, two orders a day
    istanbul_evening = datetime(2026, 3, 10, 17, 0, tzinfo=dt_timezone.utc)  # 20:00 local
    with time_machine.travel(istanbul_evening, tick=False):
        for ref in ("MID-1", "MID-2"):
            order_create(channel=web, data=order_input(ref, ("TEE", 1), lat=41.0, lon=29.0))
        assert locations_at_capacity() == {store.pk}
    OutboxEvent.objects.all().delete()  # what the fill itself announced
    # 23:45 local: still yesterday, nothing to announce
    assert capacity_reopenings_announce(now=datetime(2026, 3, 10, 20, 45, tzinfo=dt_timezone.utc)) == []
    with time_machine.travel(datetime(2026, 3, 10, 21, 0, tzinfo=dt_timezone.utc), tick=False):  # 00:00 local
        assert locations_at_capacity() == set()
        assert capacity_reopenings_announce() == [store.pk]
    assert list(OutboxEvent.objects.filter(reason="capacity").values_list("product_id", "location_id")) == [(tee.pk, store.pk)]
    # the next quarter hour's run does not announce it again; nor does a store that was not full
    assert capacity_reopenings_announce(now=datetime(2026, 3, 10, 21, 15, tzinfo=dt_timezone.utc)) == []
    assert capacity_reopenings_announce(now=datetime(2026, 3, 11, 21, 0, tzinfo=dt_timezone.utc)) == []
    assert OutboxEvent.objects.filter(reason="capacity").count() == 1


def test_the_reopening_job_runs_every_quarter_hour_on_beat(shop):
    from inventory.schedules import BEAT_SCHEDULE
    from inventory.tasks import capacity_reopenings_announce as task

    entry = BEAT_SCHEDULE["inventory-capacity-reopenings"]
    assert entry["task"] == task.name and sorted(entry["schedule"].minute) == [0, 15, 30, 45]
    assert task.run() == 0  # no store is at its midnight with a full yesterday
