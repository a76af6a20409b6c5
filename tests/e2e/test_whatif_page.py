"""The routing what-if in a real browser: a merchandiser edits a copy of a profile, runs it over a
day of orders, and reads the comparison — and the real orders keep their locations."""

from __future__ import annotations

import json

import pytest

from orders.models import Allocation
from orders.services import order_create, routing_profile_save
from tests.e2e.conftest import shot
from tests.orders.factories import ChannelFactory, LocationFactory, ProductFactory, make_visible, order_input, receive

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_merchandiser_replays_a_day_against_an_edited_profile(merchandiser_page, live_server):
    page = merchandiser_page
    web = ChannelFactory(code="web")
    ist = LocationFactory(code="ST-IST", latitude=41.01, longitude=28.97)
    izm = LocationFactory(code="ST-IZM", latitude=38.42, longitude=27.14, handling_cost=9)
    make_visible(web, ist, izm)
    shirt = ProductFactory(sku="SHIRT")
    for loc in (ist, izm):
        receive(shirt, loc, 10)
    routing_profile_save(name="nearest", criteria=[{"name": "stock_status", "weight": 3}, {"name": "proximity", "weight": 5}])
    for i in range(3):
        order_create(channel=web, data=order_input(f"WI-{i}", ("SHIRT", 1), lat=38.4, lon=27.1))

    page.goto(f"{live_server.url}/admin/what-if/")
    page.select_option("#id_profile", label="nearest v1")
    page.fill("#id_criteria", json.dumps([{"name": "stock_status", "weight": 3}, {"name": "cost", "weight": 5}]))
    shot(page, "whatif-form")
    page.click("input[type=submit]")
    page.wait_for_selector("text=delivery order(s) replayed")
    body = page.inner_text("#content")
    assert "3 delivery order(s) replayed; the decision differs for 3" in body
    assert "WI-2" in body and "ST-IST" in body
    shot(page, "whatif-result")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "whatif-result-390")
    assert set(Allocation.objects.values_list("location__code", flat=True)) == {"ST-IZM"}
