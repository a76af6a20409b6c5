"""Routing sells from exactly the locations ATP counts: drop-ship supplier stock when the channel
may sell it (and only then)."""

from __future__ import annotations

import pytest

from inventory.models import Reservation
from omni.errors import InsufficientStock
from orders.models import Allocation
from orders.services import order_create

from .factories import LocationFactory, make_visible, order_input, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def supplier(world):
    supplier = LocationFactory(code="SUP-DNZ", kind="supplier", latitude=37.77, longitude=29.09, can_pickup=False)
    receive(world.cap, supplier, 10)
    return supplier


def test_a_drop_ship_channel_routes_to_the_supplier_it_sells_from(world, supplier):
    world.web.allows_dropship = True
    world.web.save(update_fields=["allows_dropship"])

    order = order_create(channel=world.web, data=order_input("DS-1", ("CAP", 2)))

    assert list(Allocation.objects.filter(line__order=order).values_list("location__code", "quantity")) == [("SUP-DNZ", 2)]


def test_a_supplier_named_in_visibility_is_not_sold_from_without_drop_ship(world, supplier):
    make_visible(world.market, supplier)  # visible by rule, but the market may not sell drop-ship

    with pytest.raises(InsufficientStock):
        order_create(channel=world.market, data=order_input("DS-2", ("CAP", 1)))
    assert Reservation.objects.count() == 0
