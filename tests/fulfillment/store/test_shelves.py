"""The pick list says where each item sits and walks the store in that order: A-2 before A-10,
items without a shelf last; the batch pick list too."""

from __future__ import annotations

import pytest

from fulfillment.store.display import shelf_order
from inventory import services
from tests.fulfillment.factories import place, receive
from tests.inventory.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_shelf_order_walks_numbers_as_numbers_and_unshelved_last():
    shelves = ["A-10-1", "", "a-2-1", "B-1-1", "A-2-2"]
    assert sorted(shelves, key=shelf_order) == ["a-2-1", "A-2-2", "A-10-1", "B-1-1", ""]


@pytest.fixture
def shelved(world, client):
    client.force_login(StaffFactory(username="ayse", assigned=world.ist))
    for product in (world.shirt, world.mug, world.cap):
        receive(product, world.ist, 10)
    services.stock_shelf_set(product=world.shirt, location=world.ist, shelf="A-10-1")
    services.stock_shelf_set(product=world.mug, location=world.ist, shelf="A-2-3")
    return world


def test_the_pick_list_shows_shelves_and_is_sorted_by_them(shelved, client):
    world = shelved
    work = place(world, "W-SHELF", ("SHIRT", 1), ("CAP", 1), ("MUG", 1))
    html = client.get(f"/s/{world.ist.code}/w/{work.pk}/").content.decode()
    assert 'Shelf <strong class="mono">A-2-3</strong>' in html and 'Shelf <strong class="mono">A-10-1</strong>' in html
    order = [html.index(f'data-sku="{sku}"') for sku in ("MUG", "SHIRT", "CAP")]
    assert order == sorted(order)  # MUG (A-2-3), SHIRT (A-10-1), then CAP (no shelf)


def test_the_batch_pick_list_is_sorted_by_shelf(shelved, client):
    world = shelved
    a = place(world, "W-B1", ("SHIRT", 1), ("CAP", 1))
    b = place(world, "W-B2", ("MUG", 2))
    html = client.get(f"/s/{world.ist.code}/batch/", {"w": [a.pk, b.pk]}).content.decode()
    order = [html.index(f'data-sku="{sku}"') for sku in ("MUG", "SHIRT", "CAP")]
    assert order == sorted(order)
    assert '<td class="mono nowrap">A-2-3</td>' in html and '<td class="mono nowrap">—</td>' in html
