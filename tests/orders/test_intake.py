"""Order intake through the service: routing answers, all-or-nothing reservations, clear errors."""

from __future__ import annotations

import pytest

from inventory.models import Reservation, StockLevel
from inventory.services import ledger_check
from omni.errors import Conflict, InsufficientStock, ValidationFailed
from orders.models import Allocation, AllocationStatus, Order, OrderStatus, RoutingDecision
from orders.services import order_create

from .factories import PostalCentroidFactory, order_input, receive

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        sorted(StockLevel.objects.values_list("product__sku", "location__code", "on_hand", "reserved")),
        Reservation.objects.count(), Order.objects.count(), Allocation.objects.count(),
    )


def plan(order):
    return sorted(Allocation.objects.filter(line__order=order).values_list("line__line_no", "location__code", "quantity"))


def test_order_goes_to_the_nearest_location_with_the_whole_order(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    receive(world.shirt, world.ank, 50)
    receive(world.mug, world.ank, 50)
    # Customer in Istanbul: the Istanbul store has both lines.
    order = order_create(channel=world.web, data=order_input("W-1", ("SHIRT", 2), ("MUG", 1)))
    assert order.status == OrderStatus.ALLOCATED
    assert plan(order) == [(1, "ST-IST", 2), (2, "ST-IST", 1)]
    level = StockLevel.objects.get(product=world.shirt, location=world.ist)
    assert (level.on_hand, level.reserved) == (5, 2)
    decision = RoutingDecision.objects.get(order=order)
    assert decision.plan == [{"line": 1, "location": "ST-IST", "quantity": 2}, {"line": 2, "location": "ST-IST", "quantity": 1}]
    assert decision.candidates[0]["location"] == "ST-IST"
    assert "ST-IST scored" in decision.reason and "whole order" in decision.reason
    assert list(order.events.values_list("kind", flat=True)) == ["created", "routed"]
    assert ledger_check() == []


def test_whole_order_location_beats_a_closer_partial_one(world):
    receive(world.shirt, world.ist, 5)  # close, but no mugs
    receive(world.shirt, world.ank, 5)
    receive(world.mug, world.ank, 5)
    order = order_create(channel=world.web, data=order_input("W-2", ("SHIRT", 1), ("MUG", 1)))
    assert plan(order) == [(1, "WH-ANK", 1), (2, "WH-ANK", 1)]


def test_split_when_no_location_has_everything(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.izm, 5)
    order = order_create(channel=world.web, data=order_input("W-3", ("SHIRT", 1), ("MUG", 2)))
    assert plan(order) == [(1, "ST-IST", 1), (2, "ST-IZM", 2)]
    assert "Split into 2 shipments because no single candidate has the whole order" in RoutingDecision.objects.get(order=order).reason


def test_split_beyond_max_shipments_is_refused_and_reserves_nothing(world):
    from orders.services import routing_profile_save

    routing_profile_save(name="one-box", channel=world.web, criteria=[{"name": "proximity", "weight": 1}], max_shipments=1)
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.izm, 5)
    before = snapshot()
    with pytest.raises(InsufficientStock) as err:
        order_create(channel=world.web, data=order_input("W-4", ("SHIRT", 1), ("MUG", 1)))
    assert err.value.code == "max_shipments_exceeded"
    assert "at most 1 location" in err.value.message
    assert snapshot() == before


def test_insufficient_stock_names_what_is_available_and_reserves_nothing(world):
    receive(world.shirt, world.ist, 2)
    receive(world.shirt, world.ank, 1)
    receive(world.mug, world.ank, 9)
    before = snapshot()
    with pytest.raises(InsufficientStock) as err:
        order_create(channel=world.web, data=order_input("W-5", ("MUG", 1), ("SHIRT", 4)))
    assert err.value.code == "insufficient_stock"
    assert err.value.details == {"lines": [{"sku": "MUG", "requested": 1, "available": 9},
                                           {"sku": "SHIRT", "requested": 4, "available": 3}]}
    assert "SHIRT: 4 requested, 3 available" in err.value.message
    assert snapshot() == before


def test_stock_at_locations_the_channel_cannot_see_is_not_used(world, django_db_blocker):
    from tests.inventory.factories import LocationFactory

    hidden = LocationFactory(code="ST-HIDDEN", latitude=41.0, longitude=29.0)
    receive(world.shirt, hidden, 10)
    with pytest.raises(InsufficientStock) as err:
        order_create(channel=world.web, data=order_input("W-6", ("SHIRT", 1)))
    assert err.value.details["lines"][0]["available"] == 0


@pytest.mark.parametrize(("lines", "code", "field"), [
    ([("NOPE", 1)], "unknown_sku", "lines[0].sku"),
    ([("SHIRT", 0)], "invalid_quantity", "lines[0].quantity"),
    ([("SHIRT", -2)], "invalid_quantity", "lines[0].quantity"),
    ([("SHIRT", 1), ("MUG", 1.5)], "invalid_quantity", "lines[1].quantity"),
    ([], "invalid", "lines"),
])
def test_bad_lines_are_refused_and_change_nothing(world, lines, code, field):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        order_create(channel=world.web, data=order_input("BAD", *lines))
    assert err.value.code == code
    assert field in err.value.details
    assert snapshot() == before


def test_ship_order_without_coordinates_is_refused(world):
    receive(world.shirt, world.ist, 5)
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        order_create(channel=world.web, data=order_input("NC-1", ("SHIRT", 1), lat=None, lon=None, postal_code="99999", country="TR"))
    assert err.value.code == "missing_coordinates"
    assert "latitude and longitude" in err.value.message
    assert snapshot() == before


def test_postal_code_centroid_stands_in_for_coordinates(world):
    PostalCentroidFactory(country="TR", postal_code="35000", latitude=38.42, longitude=27.14)  # Izmir
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    order = order_create(channel=world.web, data=order_input("PC-1", ("SHIRT", 1), lat=None, lon=None, postal_code="35000", country="tr"))
    assert plan(order) == [(1, "ST-IZM", 1)]
    assert (order.latitude, order.longitude) == (38.42, 27.14)


def test_half_given_coordinates_are_refused(world):
    with pytest.raises(ValidationFailed) as err:
        order_create(channel=world.web, data=order_input("HC-1", ("SHIRT", 1), lat=41.0, lon=None))
    assert err.value.code == "invalid_coordinates"


def test_same_external_id_twice_is_a_conflict(world):
    receive(world.shirt, world.ist, 5)
    order_create(channel=world.web, data=order_input("DUP", ("SHIRT", 1)))
    before = snapshot()
    with pytest.raises(Conflict) as err:
        order_create(channel=world.web, data=order_input("DUP", ("SHIRT", 1)))
    assert err.value.code == "duplicate_order"
    assert snapshot() == before
    # Another channel may use the same external id.
    order_create(channel=world.market, data=order_input("DUP", ("SHIRT", 1)))


def test_bopis_goes_to_the_chosen_store(world):
    receive(world.shirt, world.ank, 50)
    receive(world.shirt, world.izm, 2)
    order = order_create(channel=world.web, data=order_input("B-1", ("SHIRT", 2), lat=None, lon=None,
                                                           delivery_mode="bopis", pickup_location="ST-IZM"))
    assert plan(order) == [(1, "ST-IZM", 2)]
    assert order.pickup_location == world.izm


def test_bopis_store_without_stock_offers_nearby_stores_and_ship_to_store(world):
    receive(world.shirt, world.ist, 3)
    receive(world.shirt, world.ank, 3)
    receive(world.shirt, world.izm, 1)
    before = snapshot()
    with pytest.raises(InsufficientStock) as err:
        order_create(channel=world.web, data=order_input("B-2", ("SHIRT", 2), lat=None, lon=None,
                                                       delivery_mode="bopis", pickup_location="ST-IZM"))
    assert err.value.code == "pickup_store_lacks_stock"
    details = err.value.details
    assert details["lines"] == [{"sku": "SHIRT", "requested": 2, "available": 1}]
    assert [s["location"] for s in details["nearby_stores"]] == ["ST-IST"]  # WH-ANK is no pickup point
    assert details["ship_to_store"] == {"allowed": True, "possible": True}
    assert "ship_to_store=true" in err.value.message
    assert snapshot() == before
    # The customer accepts ship-to-store: units come from elsewhere, bound for the store.
    order = order_create(channel=world.web, data=order_input("B-2", ("SHIRT", 2), lat=None, lon=None, delivery_mode="bopis",
                                                           pickup_location="ST-IZM", ship_to_store=True))
    allocs = list(Allocation.objects.filter(line__order=order).values_list("location__code", "quantity", "ship_to_store__code"))
    assert sum(q for _l, q, _s in allocs) == 2
    assert all(s == "ST-IZM" for loc, _q, s in allocs if loc != "ST-IZM")


def test_pickup_store_that_does_not_offer_pickup_is_refused(world):
    receive(world.shirt, world.ank, 5)
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        order_create(channel=world.web, data=order_input("B-3", ("SHIRT", 1), delivery_mode="bopis", pickup_location="WH-ANK"))
    assert err.value.code == "pickup_not_offered"
    assert "WH-ANK does not offer in-store pickup" in err.value.message
    assert snapshot() == before


def test_capacity_used_up_excludes_a_location(world):
    world.ist.daily_capacity = 1
    world.ist.save()
    receive(world.shirt, world.ist, 10)
    receive(world.shirt, world.ank, 10)
    first = order_create(channel=world.web, data=order_input("CAP-1", ("SHIRT", 1)))
    second = order_create(channel=world.web, data=order_input("CAP-2", ("SHIRT", 1)))
    assert plan(first) == [(1, "ST-IST", 1)]
    assert plan(second) == [(1, "WH-ANK", 1)]


def test_allocations_hold_open_reservations(world):
    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("R-1", ("SHIRT", 3)))
    alloc = Allocation.objects.get(line__order=order)
    res = Reservation.objects.get(pk=alloc.reservation_id)
    assert (res.quantity, res.status, res.reference) == (3, "open", f"order-allocation:{alloc.pk}")
    assert alloc.status == AllocationStatus.RESERVED
