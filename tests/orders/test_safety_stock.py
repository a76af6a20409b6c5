"""Orders never take a location's safety stock: routing counts what a location can give as
on hand − reserved − its location safety stock, and the reservation itself refuses to go below it."""

from __future__ import annotations

import pytest

from inventory.models import Reservation, StockLevel
from omni.errors import InsufficientStock
from orders.models import Allocation
from orders.services import HoldLineInput, hold_create, order_create
from tests.allocation.factories import location_policy

from .factories import order_input, receive

pytestmark = pytest.mark.django_db


def test_order_skips_the_store_whose_spare_units_are_its_safety_stock(world):
    # Istanbul is nearest but 4 of its 5 shirts are safety stock; Izmir has 3 to spare.
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 3)
    location_policy(world.shirt, world.ist, 4)

    order = order_create(channel=world.web, data=order_input("W-1", ("SHIRT", 2), lat=41.0, lon=29.0))

    assert list(Allocation.objects.filter(line__order=order).values_list("location__code", "quantity")) == [("ST-IZM", 2)]
    assert StockLevel.objects.get(product=world.shirt, location=world.ist).reserved == 0


def test_order_that_only_safety_stock_could_fill_is_refused_and_reserves_nothing(world):
    receive(world.shirt, world.ist, 5)
    location_policy(world.shirt, world.ist, 4)

    with pytest.raises(InsufficientStock):
        order_create(channel=world.web, data=order_input("W-2", ("SHIRT", 2), lat=41.0, lon=29.0))
    assert Reservation.objects.count() == 0
    assert StockLevel.objects.get(product=world.shirt, location=world.ist).reserved == 0


def test_a_checkout_hold_cannot_take_safety_stock_either(world):
    receive(world.shirt, world.ist, 5)
    location_policy(world.shirt, world.ist, 4)

    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=1)], latitude=41.0, longitude=29.0)
    assert hold.lines.get().quantity == 1
    with pytest.raises(InsufficientStock):
        hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=1)], latitude=41.0, longitude=29.0)
    assert StockLevel.objects.get(product=world.shirt, location=world.ist).reserved == 1
