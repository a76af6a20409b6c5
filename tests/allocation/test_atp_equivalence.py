"""The one-query ATP agrees with one aggregate query per SKU written from the formulas (the
benchmark's baseline) on random small worlds: several channels at once, overlapping visibility,
quotas (default and per SKU), every safety-stock scope, supplier stock, both refinements."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from allocation.accuracy.services import location_accuracy_refresh
from allocation.availability.atp import availability_for_channels
from allocation.availability.context import channel_contexts
from allocation.benchmarks.atp import per_sku_atp
from allocation.channels.services import channel_quota_set
from allocation.models import SyncMode
from inventory import services as inv
from inventory.models import LocationKind, StockLevel, StockMovement

from ..inventory.factories import LocationFactory, ProductFactory
from .factories import ChannelFactory, channel_policy, location_policy, make_visible, pool_policy, put_stock

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_sql_atp_equals_per_sku_reference(seed):
    rng = random.Random(seed)
    kinds = [LocationKind.DC, LocationKind.STORE, LocationKind.STORE, LocationKind.STORE, LocationKind.SUPPLIER]
    locations = [LocationFactory(code=f"L{seed}-{i}", kind=k) for i, k in enumerate(kinds)]
    own = locations[:4]
    products = [ProductFactory(sku=f"P{seed}-{i}") for i in range(4)]
    channels = [
        ChannelFactory(code=f"web{seed}", allows_dropship=True, lag_buffer_enabled=True, sync_mode=SyncMode.BATCH,
                       sync_interval_seconds=rng.choice([3600, 86400]), accuracy_haircut_enabled=True,
                       accuracy_haircut_percent=rng.choice([25, 50])),
        ChannelFactory(code=f"pos{seed}"),
        ChannelFactory(code=f"mkt{seed}", lag_buffer_enabled=True, sync_mode=SyncMode.NEAR_REALTIME, sync_window_seconds=600),
    ]
    for ch in channels:
        make_visible(ch, *rng.sample(own + [locations[4]], rng.randint(1, 4)))
    channel_quota_set(channel=channels[1], min_share_percent=rng.choice([10, 30, 45]))
    channel_quota_set(channel=channels[2], min_share_percent=rng.choice([5, 20]), product=products[0])
    for p in products:
        for loc in locations:
            on_hand = rng.randint(0, 12)
            put_stock(p, loc, on_hand=on_hand, reserved=rng.randint(0, on_hand))
            if rng.random() < 0.4:
                location_policy(p, loc, rng.randint(0, 5))
        if rng.random() < 0.5:
            pool_policy(p, rng.randint(0, 15))
        if rng.random() < 0.5:
            channel_policy(p, rng.choice(channels), rng.randint(0, 15))
        for ch in (channels[0], channels[2]):
            level_loc = rng.choice(own)
            sold = min(rng.randint(0, 3), put_and_sell_room(p, level_loc))
            if sold:
                result = inv.stock_sell(product=p, location=level_loc, quantity=sold, source=ch.code)
                StockMovement.objects.filter(pk=result.movements[0].pk).update(
                    created_at=timezone.now() - timedelta(days=rng.randint(0, 40)))
    for loc in own[:2]:
        for p in products[:2]:
            level = StockLevel.objects.filter(product=p, location=loc).first()
            on_hand = level.on_hand if level else 0
            inv.cycle_count_record(product=p, location=loc, counted=rng.choice([on_hand, on_hand + 1]))
    location_accuracy_refresh()

    now = timezone.now()
    sql = availability_for_channels(channels=channels, product_ids=[p.pk for p in products], now=now)
    contexts = channel_contexts(channels=channels, now=now)
    for ch in channels:
        for p in products:
            assert sql[ch.pk][p.pk].atp == per_sku_atp(ctx=contexts[ch.pk], product_id=p.pk, now=now), (ch.code, p.sku)
    comps = [c for per in sql.values() for c in per.values()]
    exercised = {name for name in ("haircut", "extra_buffer", "quota", "virtual", "lag_buffer", "location_safety_stock")
                 if any(getattr(c, name) for c in comps)}
    # the random world really exercises the layers it claims to compare (seed 1 hits every one)
    assert {"extra_buffer", "lag_buffer", "location_safety_stock", "virtual"} <= exercised
    if seed == 1:
        assert exercised == {"haircut", "extra_buffer", "quota", "virtual", "lag_buffer", "location_safety_stock"}


def put_and_sell_room(product, location) -> int:
    """Units that may still leave the shelf (on hand − reserved)."""
    level = StockLevel.objects.filter(product=product, location=location).first()
    return level.on_hand - level.reserved if level else 0


@pytest.mark.parametrize("with_accuracy", [False, True])
@pytest.mark.parametrize("capacity_days", [None, (timezone.now().date(), timezone.now().date() + timedelta(days=1))])
def test_context_statement_is_built_once_per_shape(with_accuracy, capacity_days):
    from allocation.availability import context

    sql, params = context._context_statement(with_accuracy=with_accuracy, capacity_days=capacity_days)
    again, params_again = context._context_statement(with_accuracy=with_accuracy, capacity_days=capacity_days)
    assert again is sql and params_again == params == [True, True, True, *(capacity_days or ())]
    assert sql == context._context_text(with_accuracy, capacity_days is not None)
    assert ("'A'" in sql) is with_accuracy and ("'C'" in sql) is (capacity_days is not None)
    assert sql.count("%s") == len(params)
