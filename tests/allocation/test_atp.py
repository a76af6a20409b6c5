"""ATP formulas on hand-computed cases: every layer, precedence, floors, quotas, refinements."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from allocation.accuracy.services import location_accuracy_refresh
from allocation.channels.services import channel_quota_set
from allocation.models import SyncMode
from allocation.selectors import atp_components, atp_for_channel, pool_availability, reservable_floor_by_level
from inventory import services as inv
from inventory.models import LocationKind, OutboxEvent, StockLevel, StockMovement
from omni.errors import InsufficientStock

from ..inventory.factories import LocationFactory, ProductFactory
from .factories import ChannelFactory, channel_policy, location_policy, make_visible, pool_policy, put_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def sku():
    return ProductFactory(sku="JEANS-32")


@pytest.fixture
def dc():
    return LocationFactory(code="DC-01", kind=LocationKind.DC, can_pickup=False)


@pytest.fixture
def store():
    return LocationFactory(code="ST-01", kind=LocationKind.STORE)


def test_available_is_on_hand_minus_reserved_minus_location_safety_stock_floored_at_zero(sku, dc, store):
    web = ChannelFactory(code="web")
    make_visible(web, dc, store)
    put_stock(sku, dc, on_hand=20, reserved=3)
    put_stock(sku, store, on_hand=1)
    location_policy(sku, dc, 2)
    location_policy(sku, store, 4)  # more than the store has: floors at 0, deducts only the 1 unit there

    comp = atp_components(channel=web, product_ids=[sku.pk])[sku.pk]
    # DC: 20 − 3 − 2 = 15; store: max(1 − 0 − 4, 0) = 0
    assert (comp.available, comp.location_safety_stock, comp.atp) == (15, 3, 15)
    assert atp_for_channel(channel=web, product_ids=[sku.pk, 999999]) == {sku.pk: 15, 999999: 0}


def test_only_visible_active_locations_count(sku, dc, store):
    web = ChannelFactory(code="web")
    make_visible(web, dc)
    put_stock(sku, dc, on_hand=5)
    put_stock(sku, store, on_hand=7)
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 5}
    dc.is_active = False
    dc.save()
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 0}


def test_channel_policy_beats_pool_policy_and_location_floors_count_toward_it(sku, dc, store):
    web, market, pos = ChannelFactory(code="web"), ChannelFactory(code="market"), ChannelFactory(code="pos")
    for ch in (web, market):
        make_visible(ch, dc, store)
    make_visible(pos, store)
    put_stock(sku, dc, on_hand=20, reserved=3)
    put_stock(sku, store, on_hand=1)
    location_policy(sku, dc, 2)
    location_policy(sku, store, 4)  # deducts 1 (all there is)
    channel_policy(sku, web, 6)
    pool_policy(sku, 4)

    comps = {ch.code: atp_components(channel=ch, product_ids=[sku.pk])[sku.pk] for ch in (web, market, pos)}
    # web: its own buffer 6, floors already deducted 2 + 1 = 3 → 3 more: 15 − 3 = 12
    assert (comps["web"].buffer_source, comps["web"].extra_buffer, comps["web"].atp) == ("channel", 3, 12)
    # market: no channel policy → pool buffer 4, minus 3 deducted → 1 more: 15 − 1 = 14
    assert (comps["market"].buffer_source, comps["market"].extra_buffer, comps["market"].atp) == ("pool", 1, 14)
    # pos sees only the store: available 0, floor deducted 1, pool buffer 4 → 3 more, floored at 0
    assert (comps["pos"].available, comps["pos"].extra_buffer, comps["pos"].atp) == (0, 3, 0)

    pool = pool_availability(product_ids=[sku.pk])[sku.pk]
    assert (pool.physical, pool.reserved, pool.location_safety_stock, pool.available, pool.extra_buffer, pool.atp) == (21, 3, 3, 15, 1, 14)


def test_buffer_larger_than_stock_floors_atp_at_zero(sku, dc):
    web = ChannelFactory(code="web")
    make_visible(web, dc)
    put_stock(sku, dc, on_hand=4, reserved=1)
    channel_policy(sku, web, 10)
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 0}


def test_quota_protects_share_of_pool_for_other_channels(sku, dc, store):
    web, market, pos = ChannelFactory(code="web"), ChannelFactory(code="market"), ChannelFactory(code="pos")
    make_visible(web, dc, store)
    make_visible(market, dc)
    make_visible(pos, store)
    put_stock(sku, dc, on_hand=10)
    put_stock(sku, store, on_hand=6)
    channel_quota_set(channel=pos, min_share_percent=30)

    atp = {ch.code: atp_for_channel(channel=ch, product_ids=[sku.pk])[sku.pk] for ch in (web, market, pos)}
    # pool 16 → pos keeps ceil(4.8) = 5 of the 6 it sees. web shares the store with pos: 16 − 5 = 11.
    # market sees only the DC; pos's 5 come from the store that only pos (of the two) sees: 10 − 0.
    # pos is never limited by its own quota: 6.
    assert atp == {"web": 11, "market": 10, "pos": 6}

    other = ProductFactory(sku="OTHER")
    put_stock(other, store, on_hand=6)
    channel_quota_set(channel=pos, min_share_percent=50, product=sku)  # SKU-specific beats the default
    # sku: ceil(8) = 8 but pos can only see 6 → protects 6: web 16 − 6 = 10
    assert atp_for_channel(channel=web, product_ids=[sku.pk, other.pk]) == {sku.pk: 10, other.pk: 4}  # other: 6 − ceil(1.8)


def test_supplier_stock_is_virtual_only_for_dropship_channels(sku, dc):
    supplier = LocationFactory(code="SUP-01", kind=LocationKind.SUPPLIER, can_pickup=False)
    web, market = ChannelFactory(code="web", allows_dropship=True), ChannelFactory(code="market")
    make_visible(web, dc)
    make_visible(market, dc, supplier)  # seeing a supplier is not enough
    put_stock(sku, dc, on_hand=3)
    put_stock(sku, supplier, on_hand=7, reserved=2)
    location_policy(sku, supplier, 1)

    web_c = atp_components(channel=web, product_ids=[sku.pk])[sku.pk]
    assert (web_c.available, web_c.virtual, web_c.atp) == (3, 4, 7)  # 7 − 2 − 1 = 4 virtual
    assert atp_for_channel(channel=market, product_ids=[sku.pk]) == {sku.pk: 3}
    assert pool_availability(product_ids=[sku.pk])[sku.pk].available == 3  # suppliers are not the own pool


def _sell(product, location, quantity, source, days_ago=1):
    result = inv.stock_sell(product=product, location=location, quantity=quantity, source=source)
    StockMovement.objects.filter(pk=result.movements[0].pk).update(created_at=timezone.now() - timedelta(days=days_ago))


def test_lag_buffer_holds_back_expected_sales_during_one_sync_period(sku, dc):
    market = ChannelFactory(code="market", sync_mode=SyncMode.BATCH, sync_interval_seconds=86400, lag_buffer_enabled=True)
    make_visible(market, dc)
    put_stock(sku, dc, on_hand=100)
    for days_ago in (1, 5, 9, 20):
        _sell(sku, dc, 14, "market", days_ago)  # 56 units in the 28-day window → 2 a day
    _sell(sku, dc, 10, "pos")  # another channel's sales do not count
    _sell(sku, dc, 20, "market", days_ago=40)  # outside the window
    # on hand 100 − 56 − 10 − 20 = 14; one day between pushes → 56 × 86400 / (28 × 86400) = 2
    comp = atp_components(channel=market, product_ids=[sku.pk])[sku.pk]
    assert (comp.available, comp.sold_in_window, comp.lag_buffer, comp.atp) == (14, 56, 2, 12)

    market.sync_interval_seconds = 3600  # 56 × 3600 / 2,419,200 = 0.083 → rounds up to 1
    market.save()
    assert atp_for_channel(channel=market, product_ids=[sku.pk]) == {sku.pk: 13}

    market.lag_buffer_enabled = False
    market.save()
    assert atp_for_channel(channel=market, product_ids=[sku.pk]) == {sku.pk: 14}


def test_accuracy_haircut_discounts_inaccurate_locations(sku, dc, store):
    web = ChannelFactory(code="web", accuracy_haircut_enabled=True, accuracy_threshold_percent=95, accuracy_haircut_percent=50)
    make_visible(web, dc, store)
    put_stock(sku, store, on_hand=10)
    put_stock(sku, dc, on_hand=8)
    for counted in (10, 10, 9, 9):  # 4 counts, the third found a variance → 75 % accurate
        inv.cycle_count_record(product=sku, location=store, counted=counted)
    inv.cycle_count_record(product=sku, location=dc, counted=8)  # 100 % accurate
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 17}  # not measured yet
    OutboxEvent.objects.all().delete()
    assert location_accuracy_refresh() == 1  # the store crossed web's 95 % threshold
    assert list(OutboxEvent.objects.values_list("product_id", "reason")) == [(sku.pk, "accuracy")]
    assert location_accuracy_refresh() == 0  # nothing moved since

    comp = atp_components(channel=web, product_ids=[sku.pk])[sku.pk]
    # store: 9 available count at 50 % → floor(4.5) = 4, haircut 5; DC: 8 in full
    assert (comp.available, comp.haircut, comp.atp) == (17, 5, 12)

    web.accuracy_threshold_percent = 75  # 75 % is not below 75 %
    web.save()
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 17}
    web.accuracy_threshold_percent, web.accuracy_haircut_enabled = 95, False
    web.save()
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 17}


def test_reservations_cannot_eat_into_location_safety_stock(sku, store):
    put_stock(sku, store, on_hand=5)
    location_policy(sku, store, 2)
    level = StockLevel.objects.get(product=sku, location=store)
    floors = reservable_floor_by_level(level_ids=[level.pk])
    assert floors == {level.pk: 2}
    req = inv.ReservationRequest(product=sku, location=store, quantity=4, reference="order-line:1")
    with pytest.raises(InsufficientStock):
        inv.reservations_create(requests=[req], floor_by_level=floors)
    level.refresh_from_db()
    assert level.reserved == 0
    inv.reservations_create(requests=[inv.ReservationRequest(product=sku, location=store, quantity=3, reference="order-line:2")],
                            floor_by_level=floors)
    level.refresh_from_db()
    assert level.reserved == 3


@pytest.mark.postgres
def test_repeated_requests_reuse_one_prepared_statement_and_see_fresh_stock(sku, dc):
    from django.db import connection

    from allocation.availability.atp import availability_for_channels

    web = ChannelFactory(code="web")
    make_visible(web, dc)
    other = ProductFactory(sku="OTHER")
    put_stock(sku, dc, on_hand=5)
    put_stock(other, dc, on_hand=2)
    assert availability_for_channels(channels=[web], product_ids=[sku.pk])[web.pk][sku.pk].atp == 5
    assert availability_for_channels(channels=[web], product_ids=[other.pk])[web.pk][other.pk].atp == 2
    inv.stock_sell(product=sku, location=dc, quantity=4)
    assert availability_for_channels(channels=[web], product_ids=[sku.pk])[web.pk][sku.pk].atp == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'omni_atp_%%' AND generic_plans > 0")
        assert cursor.fetchone()[0] >= 1


def test_the_kept_atp_statement_is_the_one_built_for_each_context():
    """``_atp_query`` keeps the statement per context (PostgreSQL, API-sized requests): for contexts
    that differ from one already kept in one input the text is built from (visibility, haircut
    percent, quotas, drop-ship suppliers, the lag buffer, the sync period, the pool), the kept text
    and parameters are those built afresh, the lag window's start included."""
    import dataclasses
    import random

    from allocation.availability import sql as atp_sql
    from allocation.availability.context import ChannelContext
    from allocation.models import Channel

    rng = random.Random(5)
    now = timezone.now()

    def channel(pk, lag):
        return Channel(pk=pk, code=f"c{pk}", lag_buffer_enabled=lag)

    def variants(c: ChannelContext, own: list[int]):
        ch = c.channel
        yield dataclasses.replace(c, channel=channel(ch.pk, not ch.lag_buffer_enabled))
        yield dataclasses.replace(c, sync_seconds=0 if c.sync_seconds else 60)
        yield dataclasses.replace(c, visible_pct={**c.visible_pct, own[0]: 80})
        yield dataclasses.replace(c, visible_pct={k: v for k, v in c.visible_pct.items() if k != own[0]})
        yield dataclasses.replace(c, supplier_pct={**c.supplier_pct, 44: 90})
        yield dataclasses.replace(c, quota_others={**c.quota_others, 9: frozenset(own[:1])})
        yield dataclasses.replace(c, own_location_ids=c.own_location_ids | {99})

    for n in range(100):
        own = sorted(rng.sample(range(1, 30), rng.randint(2, 12)))
        contexts = [ChannelContext(
            channel=channel(pk, rng.random() < 0.5),
            visible_pct={i: rng.choice((100, 100, 80)) for i in sorted(rng.sample(own, rng.randint(1, len(own))))},
            supplier_pct={i: 100 for i in rng.sample(range(40, 44), rng.randint(0, 2))},
            quota_others={q: frozenset(rng.sample(own, 2)) for q in rng.sample(range(1, 6), rng.randint(0, 2)) if q != pk},
            own_location_ids=frozenset(own), sync_seconds=rng.choice((0, 30, 900)),
        ) for pk in rng.sample(range(1, 6), rng.randint(1, 3))]
        ids = rng.sample(range(1, 500), rng.randint(1, 5))
        at = now - timedelta(seconds=n)
        assert atp_sql._atp_query(contexts, ids, at) == atp_sql._atp_query_text(contexts, ids, at)
        for k, c in enumerate(contexts):
            for v in variants(c, own):
                changed = [*contexts[:k], v, *contexts[k + 1:]]
                assert atp_sql._atp_query(changed, ids, at) == atp_sql._atp_query_text(changed, ids, at)
