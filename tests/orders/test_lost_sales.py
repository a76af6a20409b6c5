"""Lost sales: demand refused at intake (no ATP for the channel, other channels' quotas, a scarce
SKU lost) or given up after a rejection with no other source is recorded once, with whether the
pool held the units elsewhere at that moment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from allocation.channels.services import channel_quota_set
from omni.errors import InsufficientStock
from orders.models import Allocation, LostSale
from orders.services import allocation_reject, order_create

from .factories import LocationFactory, RoutingProfileFactory, issue_token, order_input, receive

pytestmark = pytest.mark.django_db


def lost():
    return list(LostSale.objects.order_by("id").values_list("channel__code", "product__sku", "quantity", "reason",
                                                            "pool_free", "pool_could_cover", "order_ref"))


def test_an_order_refused_for_want_of_channel_atp_is_a_lost_sale_the_pool_could_have_covered(world):
    hidden = LocationFactory(code="ST-HIDDEN")  # the web channel does not sell from it
    receive(world.shirt, hidden, 10)
    receive(world.mug, world.ist, 5)
    with pytest.raises(InsufficientStock):
        order_create(channel=world.web, data=order_input("L-1", ("SHIRT", 3), ("MUG", 1)))
    # only the SKU that lacked is lost; the pool held it elsewhere (10 free at a store web cannot sell from)
    assert lost() == [("web", "SHIRT", 3, "no_atp", 10, True, "L-1")]
    assert LostSale.objects.get().unit_price == Decimal("10.00")


def test_a_refusal_with_an_empty_pool_is_lost_in_total_only(world):
    receive(world.shirt, world.ist, 1)
    with pytest.raises(InsufficientStock):
        order_create(channel=world.web, data=order_input("L-2", ("SHIRT", 2)))
    assert lost() == [("web", "SHIRT", 2, "no_atp", 1, False, "L-2")]


def test_units_other_channels_quotas_hold_back_are_lost_to_the_quota(world):
    receive(world.shirt, world.ist, 10)
    channel_quota_set(channel=world.market, min_share_percent=Decimal("50"), product=world.shirt)
    with pytest.raises(InsufficientStock):
        order_create(channel=world.web, data=order_input("L-3", ("SHIRT", 8)))
    assert lost() == [("web", "SHIRT", 8, "quota", 10, True, "L-3")]


def test_an_api_refusal_is_recorded_once_even_though_the_request_rolled_back(world, api_client):
    receive(world.shirt, world.ist, 1)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web)}")
    body = {"external_id": "L-4", "latitude": 41.0, "longitude": 29.0, "lines": [{"sku": "SHIRT", "quantity": 2}]}
    for _ in range(2):  # the retry replays the answer: no second lost sale
        resp = api_client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="lost-1")
        assert resp.status_code == 409
    assert lost() == [("web", "SHIRT", 2, "no_atp", 1, False, "L-4")]


def test_units_given_up_after_a_rejection_are_lost_sales(world):
    RoutingProfileFactory(name="cancel-rest", channel=world.web, reroute_shortage="cancel")
    receive(world.shirt, world.ist, 2)
    order = order_create(channel=world.web, data=order_input("L-5", ("SHIRT", 2)))
    allocation_reject(allocation=Allocation.objects.get(line__order=order), reason="not found")
    # nowhere else to take them: given up, and the pool still counts IST's two units (not yet written off)
    assert lost() == [("web", "SHIRT", 2, "rejected", 2, True, "L-5")]


def test_a_refused_order_sent_again_under_another_key_is_counted_once(world, api_client):
    receive(world.shirt, world.ist, 1)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web)}")
    body = {"external_id": "L-6", "latitude": 41.0, "longitude": 29.0, "lines": [{"sku": "SHIRT", "quantity": 2}]}
    for key in ("lost-a", "lost-b", "lost-a"):  # the shop retries with a new key, then replays the first
        resp = api_client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "insufficient_stock"
    assert lost() == [("web", "SHIRT", 2, "no_atp", 1, False, "L-6")]


def test_a_refused_order_placed_again_directly_is_counted_once(world):
    receive(world.shirt, world.ist, 1)
    receive(world.mug, world.ist, 1)
    for _ in range(2):
        with pytest.raises(InsufficientStock):
            order_create(channel=world.web, data=order_input("L-7", ("SHIRT", 2), ("MUG", 2)))
    assert lost() == [("web", "SHIRT", 2, "no_atp", 1, False, "L-7"), ("web", "MUG", 2, "no_atp", 1, False, "L-7")]


def test_a_deferred_refusal_is_written_once_when_its_owner_says_it_is_final(world):
    from orders.services import lost_sales_deferred, lost_sales_write

    receive(world.shirt, world.ist, 1)
    with pytest.raises(InsufficientStock) as refused, lost_sales_deferred():
        order_create(channel=world.web, data=order_input("L-8", ("SHIRT", 2)))
    assert lost() == []  # the caller may still serve the demand another way
    assert len(lost_sales_write(refused.value)) == 1
    assert lost_sales_write(refused.value) == []  # once
    assert lost() == [("web", "SHIRT", 2, "no_atp", 1, False, "L-8")]


def test_a_checkout_hold_refused_for_want_of_stock_is_a_lost_sale_once(world, api_client):
    from omni.insights.live import lost_sales_today

    receive(world.shirt, world.ist, 1)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web)}")
    cart = {"lines": [{"sku": "SHIRT", "quantity": 2}], "latitude": 41.0, "longitude": 29.0}
    for _ in range(2):  # the shop retries the same request: replayed, not counted again
        resp = api_client.post("/api/v1/holds", {**cart, "order_ref": "CART-9"}, format="json", HTTP_IDEMPOTENCY_KEY="hold-1")
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "insufficient_stock"
    assert lost() == [("web", "SHIRT", 2, "no_atp", 1, False, "CART-9")]
    assert LostSale.objects.get().unit_price == world.shirt.price  # a cart carries no price: the product's

    # The order that follows under the cart's number is refused for the same units: not counted again.
    order = {"external_id": "CART-9", "latitude": 41.0, "longitude": 29.0, "lines": [{"sku": "SHIRT", "quantity": 2}]}
    assert api_client.post("/api/v1/orders", order, format="json", HTTP_IDEMPOTENCY_KEY="order-1").status_code == 409
    assert len(lost()) == 1

    # Without an order number the key names the refused cart: once per key.
    for key in ("hold-2", "hold-2", "hold-3"):
        assert api_client.post("/api/v1/holds", cart, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 409
    assert [row[-1] for row in lost()] == ["CART-9", "hold:hold-2", "hold:hold-3"]
    assert lost_sales_today(channel_id=world.web.pk).units == 6  # the dashboard's figure

    # A hold that is granted is no lost sale.
    receive(world.shirt, world.ist, 5)
    assert api_client.post("/api/v1/holds", cart, format="json", HTTP_IDEMPOTENCY_KEY="hold-4").status_code == 201
    assert len(lost()) == 3

    # The shop retries CART-9 once the stock is back and the order is accepted: the customer bought
    # after all, so the dashboard no longer counts those 2 units lost (the row stays, for the record).
    assert api_client.post("/api/v1/orders", order, format="json", HTTP_IDEMPOTENCY_KEY="order-2").status_code == 201
    assert len(lost()) == 3
    assert lost_sales_today(channel_id=world.web.pk).units == 4
    from orders.selectors import lost_sales_with_bought_later
    assert [ls.order_ref for ls in lost_sales_with_bought_later(LostSale.objects.all()) if ls.bought_later] == ["CART-9"]


def test_units_given_up_after_a_rejection_stay_lost_though_their_order_exists(world):
    """Only refusals at the door can be bought later: a rejected line's units given up belong to an
    order that exists, and stay lost."""
    from omni.insights.live import lost_sales_today
    from orders.selectors import lost_sales_not_bought_later

    receive(world.shirt, world.ist, 1)
    order = order_create(channel=world.web, data=order_input("R-1", ("SHIRT", 1)))
    LostSale.objects.create(channel=world.web, product=world.shirt, quantity=1, reason="rejected", pool_free=0,
                            pool_could_cover=False, order_ref=order.external_id)
    assert lost_sales_not_bought_later(LostSale.objects.all()).count() == 1
    assert lost_sales_today(channel_id=world.web.pk).units == 1
