"""The partner API: idempotent intake, channel scoping, clear errors that change nothing."""

from __future__ import annotations

import pytest

from inventory.models import Reservation, StockLevel
from orders.models import IdempotencyRecord, Order
from tests.inventory.factories import MerchandiserFactory

from .factories import issue_token, receive

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders"


def body(external_id="API-1", **kw):
    data = {"external_id": external_id, "customer_ref": "cust-9", "latitude": 41.0, "longitude": 29.0,
            "lines": [{"sku": "SHIRT", "quantity": 2, "unit_price": "19.90"}]}
    data.update(kw)
    return data


@pytest.fixture
def web_client(world, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web)}")
    return api_client


def post(client, data, key="k-1"):
    return client.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def reserved_units():
    return sum(StockLevel.objects.values_list("reserved", flat=True))


def test_order_answer_says_where_each_line_is_fulfilled_from(world, web_client):
    receive(world.shirt, world.ist, 5)
    resp = post(web_client, body())
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert data["channel"] == "web" and data["status"] == "allocated"
    line = data["lines"][0]
    assert (line["sku"], line["quantity"], line["unit_price"]) == ("SHIRT", 2, "19.90")
    assert [(a["location"], a["quantity"], a["status"]) for a in line["fulfilled_from"]] == [("ST-IST", 2, "reserved")]
    assert [e["kind"] for e in data["events"]] == ["created", "routed"]
    assert data["events"][0]["actor"] == "partner:web partner"


def test_same_key_same_body_gives_the_same_answer_once(world, web_client):
    receive(world.shirt, world.ist, 5)
    first = post(web_client, body())
    again = post(web_client, body())
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1 and reserved_units() == 2


def test_same_key_different_body_is_a_409(world, web_client):
    receive(world.shirt, world.ist, 5)
    post(web_client, body())
    resp = post(web_client, body(lines=[{"sku": "SHIRT", "quantity": 3, "unit_price": "19.90"}]))
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "idempotency_key_reused"
    assert reserved_units() == 2


def test_missing_idempotency_key_is_refused(world, web_client):
    resp = web_client.post(URL, body(), format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "idempotency_key_required"
    assert Order.objects.count() == 0


def test_insufficient_stock_is_a_409_with_availability_and_is_replayed(world, web_client):
    receive(world.shirt, world.ist, 1)
    resp = post(web_client, body())
    assert resp.status_code == 409
    err = resp.json()["error"]
    assert err["code"] == "insufficient_stock"
    assert err["details"]["lines"] == [{"sku": "SHIRT", "requested": 2, "available": 1}]
    assert reserved_units() == 0 and Order.objects.count() == 0
    assert post(web_client, body()).json() == resp.json()
    assert IdempotencyRecord.objects.get().response_status == 409


@pytest.mark.parametrize(("change", "code", "status"), [
    ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "unknown_sku", 400),
    ({"lines": [{"sku": "SHIRT", "quantity": 0}]}, "invalid_quantity", 400),
    ({"lines": [{"sku": "SHIRT", "quantity": -1}]}, "invalid_quantity", 400),
    ({"latitude": None, "longitude": None}, "missing_coordinates", 400),
    ({"delivery_mode": "bopis", "pickup_location": "WH-ANK"}, "pickup_not_offered", 400),
    ({"channel": "market"}, "channel_forbidden", 403),
    ({"lines": "many"}, "invalid", 400),
])
def test_error_paths_are_clear_and_reserve_nothing(world, web_client, change, code, status):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.ank, 5)
    resp = post(web_client, body(**change), key=f"err-{code}")
    assert resp.status_code == status, resp.json()
    err = resp.json()["error"]
    assert err["code"] == code and err["message"]
    assert reserved_units() == 0 and Order.objects.count() == 0 and Reservation.objects.count() == 0


def test_a_token_never_sees_another_channels_orders(world, web_client, api_client):
    receive(world.shirt, world.ist, 5)
    order_id = post(web_client, body()).json()["id"]
    from rest_framework.test import APIClient

    market = APIClient()
    market.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.market)}")
    assert market.get(f"{URL}/{order_id}").status_code == 404
    assert market.get(URL).json()["results"] == []
    resp = market.post(f"{URL}/{order_id}/cancel", {}, format="json")
    assert resp.status_code == 404
    assert reserved_units() == 2
    # The owner sees it; a merchandiser sees every channel's orders.
    assert [o["external_id"] for o in web_client.get(URL).json()["results"]] == ["API-1"]
    staff = APIClient()
    staff.force_authenticate(MerchandiserFactory())
    assert staff.get(f"{URL}/{order_id}").json()["external_id"] == "API-1"


def test_token_without_orders_scope_is_refused(world, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web, 'stock:read')}")
    resp = post(api_client, body())
    assert resp.status_code == 403
    assert Order.objects.count() == 0


def test_cancel_and_return_through_the_api(world, web_client):
    from orders.models import Allocation
    from orders.services import allocation_fulfil

    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    data = post(web_client, body(lines=[{"sku": "SHIRT", "quantity": 2, "unit_price": "10.00"}, {"sku": "MUG", "quantity": 1}])).json()
    resp = web_client.post(f"{URL}/{data['id']}/cancel", {"lines": [2], "reason": "no longer wanted"}, format="json")
    assert resp.status_code == 200
    assert [ln["status"] for ln in resp.json()["lines"]] == ["allocated", "cancelled"]
    allocation_fulfil(allocation=Allocation.objects.get(line__line_no=1, line__order_id=data["id"]))
    resp = web_client.post(f"{URL}/{data['id']}/returns", {
        "location": "ST-IZM", "external_id": "RMA-7", "items": [{"line": 1, "quantity": 1, "resellable": False}]}, format="json")
    assert resp.status_code == 200, resp.json()
    assert resp.json()["lines"][0]["quantity_returned"] == 1
    assert resp.json()["returns"] == [{
        "id": resp.json()["returns"][0]["id"], "location": "ST-IZM", "external_id": "RMA-7", "reason": "",
        "refund_amount": "10.00", "actor": resp.json()["returns"][0]["actor"], "created_at": resp.json()["returns"][0]["created_at"],
        "lines": [{"line": 1, "quantity": 1, "resellable": False, "refund_amount": "10.00"}]}]
    assert StockLevel.objects.get(product=world.shirt, location=world.izm).damaged == 1
    # a partial refund for the other unit; more than its price is refused and changes nothing
    too_much = web_client.post(f"{URL}/{data['id']}/returns", {
        "location": "ST-IZM", "items": [{"line": 1, "quantity": 1, "refund_amount": "10.01"}]}, format="json")
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "invalid_refund"
    resp = web_client.post(f"{URL}/{data['id']}/returns", {
        "location": "ST-IZM", "items": [{"line": 1, "quantity": 1, "refund_amount": "7.50"}]}, format="json")
    assert [r["refund_amount"] for r in resp.json()["returns"]] == ["10.00", "7.50"]
    assert StockLevel.objects.get(product=world.shirt, location=world.izm).on_hand == 1
    resp = web_client.post(f"{URL}/{data['id']}/cancel", {}, format="json")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "illegal_transition"


def test_hold_then_order_with_hold_id(world, web_client):
    receive(world.shirt, world.ist, 2)
    resp = web_client.post("/api/v1/holds", {"lines": [{"sku": "SHIRT", "quantity": 2}], "ttl_seconds": 300}, format="json")
    assert resp.status_code == 201, resp.json()
    hold = resp.json()
    assert hold["status"] == "active" and hold["lines"] == [{"sku": "SHIRT", "location": "ST-IST", "quantity": 2}]
    resp = post(web_client, body(hold_id=hold["id"]))
    assert resp.status_code == 201, resp.json()
    assert resp.json()["hold_id"] == hold["id"]
    # the answer (built from what intake wrote) is the order as read back: held units included
    assert resp.json() == web_client.get(f"{URL}/{resp.json()['id']}").json()
    assert [e["kind"] for e in resp.json()["events"]] == ["created", "hold_consumed"]
    assert web_client.get(f"/api/v1/holds/{hold['id']}").json()["status"] == "consumed"
    assert reserved_units() == 2


def test_hold_out_of_stock_is_409_and_release_gives_units_back(world, web_client):
    receive(world.shirt, world.ist, 1)
    resp = web_client.post("/api/v1/holds", {"lines": [{"sku": "SHIRT", "quantity": 2}]}, format="json")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "insufficient_stock"
    hold = web_client.post("/api/v1/holds", {"lines": [{"sku": "SHIRT", "quantity": 1}]}, format="json").json()
    assert reserved_units() == 1
    assert web_client.delete(f"/api/v1/holds/{hold['id']}").json()["status"] == "released"
    assert reserved_units() == 0


def test_store_staff_take_returns_of_any_channel_only_at_their_store(world, web_client):
    from rest_framework.test import APIClient

    from orders.models import Allocation
    from orders.services import allocation_fulfil
    from tests.inventory.factories import StaffFactory

    receive(world.shirt, world.ist, 5)
    order_id = post(web_client, body()).json()["id"]
    allocation_fulfil(allocation=Allocation.objects.get(line__order_id=order_id))
    staff = APIClient()
    staff.force_authenticate(StaffFactory(assigned=world.izm))
    item = {"items": [{"line": 1, "quantity": 1}]}
    refused = staff.post(f"{URL}/{order_id}/returns", {"location": "ST-IST", **item}, format="json")
    assert refused.status_code == 403
    ok = staff.post(f"{URL}/{order_id}/returns", {"location": "ST-IZM", **item}, format="json")
    assert ok.status_code == 200, ok.json()
    assert StockLevel.objects.get(product=world.shirt, location=world.izm).on_hand == 1
    assert StockLevel.objects.get(product=world.shirt, location=world.ist).on_hand == 3


def test_a_partner_pins_a_line_through_the_api_idempotently_and_only_its_own_orders(world, web_client, api_client):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.ank, 5)
    order_id = post(web_client, body("PIN-1")).json()["id"]
    url = f"{URL}/{order_id}/lines/1/pin"

    missing_key = web_client.post(url, {"location": "WH-ANK"}, format="json")
    assert missing_key.status_code == 400 and missing_key.json()["error"]["code"] == "idempotency_key_required"

    resp = web_client.post(url, {"location": "WH-ANK", "reason": "faster courier"}, format="json", HTTP_IDEMPOTENCY_KEY="pin-1")
    assert resp.status_code == 200, resp.json()
    line = resp.json()["lines"][0]
    assert [(a["location"], a["quantity"], a["status"]) for a in line["fulfilled_from"]] == [
        ("ST-IST", 2, "rejected"), ("WH-ANK", 2, "reserved")]
    assert [e["kind"] for e in resp.json()["events"]][-1] == "line_pinned"
    assert StockLevel.objects.get(product=world.shirt, location=world.ank).reserved == 2
    again = web_client.post(url, {"location": "WH-ANK", "reason": "faster courier"}, format="json", HTTP_IDEMPOTENCY_KEY="pin-1")
    assert again.json() == resp.json() and again["Idempotent-Replayed"] == "true"
    assert StockLevel.objects.get(product=world.shirt, location=world.ank).reserved == 2

    # too little stock where asked: 409 with a clear message, nothing changed
    short = web_client.post(url, {"location": "ST-IZM"}, format="json", HTTP_IDEMPOTENCY_KEY="pin-2")
    assert short.status_code == 409 and "ST-IZM has fewer than 2 × SHIRT available" in short.json()["error"]["message"]
    unknown = web_client.post(url, {"location": "NOPE"}, format="json", HTTP_IDEMPOTENCY_KEY="pin-3")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_location"
    assert StockLevel.objects.get(product=world.shirt, location=world.ank).reserved == 2

    market = api_client
    market.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.market)}")
    other = market.post(url, {"location": "ST-IST"}, format="json", HTTP_IDEMPOTENCY_KEY="pin-4")
    assert other.status_code == 404  # another channel's order does not exist for it
    assert StockLevel.objects.get(product=world.shirt, location=world.ist).reserved == 0
