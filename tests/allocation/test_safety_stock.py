"""Safety stock: the statistical formula from the ledger, modifiers, overrides, the nightly recompute,
the pooling effect, and that every change that moves ATP reaches the outbox (and bad input changes nothing)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest

from allocation.safety_stock import formulas as safety
from allocation.safety_stock.demand import pooling_effect
from allocation.safety_stock.models import SafetyStockPolicy
from allocation.safety_stock.services import (
    safety_stock_modifier_delete,
    safety_stock_modifier_set,
    safety_stock_override,
    safety_stock_policy_set,
    safety_stock_recompute,
)
from allocation.selectors import atp_for_channel
from allocation.tasks import safety_stock_recompute_nightly
from inventory import services as inv
from inventory.models import OutboxEvent, StockMovement
from omni.errors import NotFound, ValidationFailed

from ..inventory.factories import LocationFactory, ProductFactory
from .factories import ChannelFactory, location_policy, make_visible, put_stock

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 20)


def sell_on(product, location, day: date, quantity: int, source: str = "pos"):
    result = inv.stock_sell(product=product, location=location, quantity=quantity, source=source)
    StockMovement.objects.filter(pk=result.movements[0].pk).update(
        created_at=datetime.combine(day, time(12), tzinfo=dt_timezone.utc)
    )


def days_before(n: int) -> date:
    return TODAY - timedelta(days=n)


def test_z_from_service_level():
    assert round(safety.z_for_service_level(95), 3) == 1.645
    assert round(safety.z_for_service_level(Decimal("99")), 3) == 2.326
    assert safety.z_for_service_level(50) == 0


def test_statistical_safety_stock_from_daily_sales_of_the_window():
    sku, store = ProductFactory(sku="S1"), LocationFactory(code="ST-01")
    put_stock(sku, store, on_hand=100)
    # the 4 days before TODAY: 2, 4, 0, 2 → mean 2, sample variance (0 + 4 + 4 + 0) / 3 = 8/3, σ = 1.63299
    for n, q in ((4, 2), (3, 4), (1, 2)):
        sell_on(sku, store, days_before(n), q)
    sell_on(sku, store, TODAY, 30)  # today is not part of the window
    sell_on(sku, store, days_before(5), 30)  # nor is the day before it
    policy = safety_stock_policy_set(product=sku, scope="location", location=store, method="statistical",
                                     service_level=95, lead_time_days=4, today=TODAY)
    OutboxEvent.objects.all().delete()

    result = safety_stock_recompute(today=TODAY, days=4)

    policy.refresh_from_db()
    # 1.64485 × 1.63299 × √4 = 5.372 → 6 units
    assert (policy.demand_sigma, policy.computed_quantity, policy.effective_quantity) == (1.633, 6, 6)
    assert result.product_ids == [sku.pk]
    assert list(OutboxEvent.objects.values_list("product_id", "reason")) == [(sku.pk, "safety_stock")]
    # running it again changes nothing and republishes nothing
    assert safety_stock_recompute(today=TODAY, days=4).changed == 0
    assert OutboxEvent.objects.count() == 1


def test_channel_sigma_uses_only_that_channels_sales_and_pool_uses_all():
    sku = ProductFactory(sku="S2", lead_time_days=1)
    a, b = LocationFactory(code="ST-A"), LocationFactory(code="ST-B")
    web = ChannelFactory(code="web")
    put_stock(sku, a, on_hand=100)
    put_stock(sku, b, on_hand=100)
    # web sells 4, 0 (days 2,1) at A; pos sells 0, 4 at B → per channel σ = √8 = 2.828; pool 4, 4 → σ 0
    sell_on(sku, a, days_before(2), 4, source="web")
    sell_on(sku, b, days_before(1), 4, source="pos")
    ch = safety_stock_policy_set(product=sku, scope="channel", channel=web, method="statistical", service_level=95)
    pool = safety_stock_policy_set(product=sku, scope="pool", method="statistical", service_level=95)
    safety_stock_recompute(today=TODAY, days=2)
    ch.refresh_from_db()
    pool.refresh_from_db()
    # 1.64485 × 2.82843 × √1 = 4.652 → 5 ; pool demand is flat → 0
    assert (ch.computed_quantity, pool.computed_quantity) == (5, 0)


def test_pooling_effect_pool_safety_stock_is_below_the_sum_of_locations():
    sku = ProductFactory(sku="S3", lead_time_days=4)
    a, b = LocationFactory(code="ST-A"), LocationFactory(code="ST-B")
    put_stock(sku, a, on_hand=100)
    put_stock(sku, b, on_hand=100)
    for n in (4, 2):
        sell_on(sku, a, days_before(n), 4)
    for n in (3, 1):
        sell_on(sku, b, days_before(n), 4)
    effect = pooling_effect(product=sku, days=4, today=TODAY)
    # each location: 4,0,4,0 → σ = √(16/3) = 2.309 → 1.64485 × 2.309 × 2 = 7.597 → 8; the pool sells 4 every day → 0
    assert effect.per_location == {a.pk: 8, b.pk: 8}
    assert (effect.sum_of_locations, effect.pool, effect.saving) == (16, 0, 16)


def test_modifiers_uplift_reduce_and_new_products_get_a_conservative_minimum():
    sku = ProductFactory(sku="S4", season="AW26")
    store = LocationFactory(code="ST-01")
    policy = location_policy(sku, store, 10, today=TODAY)
    assert policy.effective_quantity == 10

    campaign = safety_stock_modifier_set(name="Black Friday", kind="campaign", percent=50, starts_on=days_before(1),
                                         ends_on=TODAY + timedelta(days=3), today=TODAY)
    policy.refresh_from_db()
    assert policy.effective_quantity == 15
    safety_stock_modifier_set(name="AW26 sell-off", kind="end_of_season", percent=20, season="AW26",
                              starts_on=days_before(10), today=TODAY)
    safety_stock_modifier_set(name="SS27 ramp-up", kind="pre_season", percent=100, season="SS27",
                              starts_on=days_before(10), today=TODAY)  # another season: no effect
    safety_stock_modifier_set(name="Next week", kind="campaign", percent=100, starts_on=TODAY + timedelta(days=7),
                              today=TODAY)  # not yet in force
    policy.refresh_from_db()
    assert policy.effective_quantity == 12  # 10 × 1.5 × 0.8
    assert "Black Friday" in policy.explanation and "AW26 sell-off" in policy.explanation

    safety_stock_modifier_delete(modifier=campaign, today=TODAY)
    policy.refresh_from_db()
    assert policy.effective_quantity == 8  # 10 × 0.8

    new = ProductFactory(sku="NEW-1", launched_on=days_before(10))
    old = ProductFactory(sku="OLD-1", launched_on=days_before(200))
    safety_stock_modifier_set(name="New products", kind="new_product", min_quantity=20, starts_on=days_before(365), today=TODAY)
    new_policy = location_policy(new, store, 3, today=TODAY)
    old_policy = location_policy(old, store, 3, today=TODAY)
    assert (new_policy.effective_quantity, old_policy.effective_quantity) == (20, 3)


def test_override_wins_and_clearing_it_restores_the_computed_value():
    sku, store = ProductFactory(sku="S5"), LocationFactory(code="ST-01")
    web = ChannelFactory(code="web")
    make_visible(web, store)
    put_stock(sku, store, on_hand=20)
    policy = location_policy(sku, store, 10, today=TODAY)
    safety_stock_modifier_set(name="Campaign", kind="campaign", percent=50, starts_on=days_before(1), today=TODAY)
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 5}  # 20 − 15

    OutboxEvent.objects.all().delete()
    policy = safety_stock_override(policy=policy, quantity=2, today=TODAY)
    assert (policy.effective_quantity, policy.explanation) == (2, "merchandiser override 2")
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 18}
    assert OutboxEvent.objects.filter(product=sku, reason="safety_stock").count() == 1
    policy = safety_stock_override(policy=policy, quantity=None, today=TODAY)
    assert policy.effective_quantity == 15


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"scope": "location"}, "scope_key_missing"),
        ({"scope": "pool", "with_location": True}, "scope_key_extra"),
        ({"scope": "galaxy"}, "invalid_scope"),
        ({"scope": "pool", "quantity": -1}, "invalid_quantity"),
        ({"scope": "pool", "quantity": 1.5}, "invalid_quantity"),
        ({"scope": "pool", "method": "statistical", "service_level": 100}, "invalid_service_level"),
        ({"scope": "pool", "method": "guess"}, "invalid_method"),
    ],
)
def test_bad_policies_are_refused_and_change_nothing(kwargs, code):
    sku, store = ProductFactory(sku="S6"), LocationFactory(code="ST-01")
    kwargs = dict(kwargs)
    if kwargs.pop("with_location", False):
        kwargs["location"] = store
    with pytest.raises(ValidationFailed) as err:
        safety_stock_policy_set(product=sku, **kwargs)
    assert err.value.code == code
    assert SafetyStockPolicy.objects.count() == 0 and OutboxEvent.objects.count() == 0


def test_unknown_product_is_not_found():
    with pytest.raises(NotFound):
        safety_stock_policy_set(product=None, scope="pool", quantity=1)


def test_setting_a_policy_again_replaces_it():
    sku, store = ProductFactory(sku="S7"), LocationFactory(code="ST-01")
    location_policy(sku, store, 4)
    location_policy(sku, store, 6)
    assert list(SafetyStockPolicy.objects.values_list("effective_quantity", flat=True)) == [6]


def test_nightly_task_recomputes(settings):
    sku, store = ProductFactory(sku="S8", lead_time_days=4), LocationFactory(code="ST-01")
    put_stock(sku, store, on_hand=50)
    policy = safety_stock_policy_set(product=sku, scope="location", location=store, method="statistical")
    yesterday = (datetime.now(dt_timezone.utc) - timedelta(days=1)).date()
    sell_on(sku, store, yesterday, 10)
    assert safety_stock_recompute_nightly() == {"policies": 1, "changed": 1}
    policy.refresh_from_db()
    # 56-day window, one day of 10: Σ=10, Σ²=100 → var = (100 − 100/56)/55 → σ = 1.3363; 1.64485 × 1.3363 × 2 = 4.396 → 5
    assert policy.effective_quantity == 5
    from allocation.schedules import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["allocation-safety-stock-nightly"]["task"] == "allocation.tasks.safety_stock_recompute_nightly"


def test_a_floor_set_at_many_locations_at_once_is_the_same_as_one_by_one(db):
    from allocation.safety_stock.services import safety_stock_policies_set_at_locations, safety_stock_policy_set

    one, many = ProductFactory(sku="ONE"), ProductFactory(sku="MANY")
    stores = [LocationFactory(code=f"ST-{i}") for i in range(4)]
    safety_stock_policy_set(product=many, scope="location", location=stores[0], quantity=9)  # replaced below
    for st in stores:
        safety_stock_policy_set(product=one, scope="location", location=st, quantity=2)
    got = safety_stock_policies_set_at_locations(product=many, locations=stores, quantity=2)

    def shape(product):
        return sorted((p.location_id, p.method, p.quantity, p.effective_quantity, p.override_quantity, p.computed_quantity)
                      for p in SafetyStockPolicy.objects.filter(product=product))
    assert shape(many) == shape(one) and len(got) == 4 and {p.effective_quantity for p in got} == {2}
    assert OutboxEvent.objects.filter(product=many, reason="safety_stock").exists()
    with pytest.raises(ValidationFailed):  # bad input changes nothing
        safety_stock_policies_set_at_locations(product=many, locations=stores, quantity=-1)
    assert shape(many) == shape(one)
