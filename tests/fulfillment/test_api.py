"""The partner API: a token lists and moves only its locations' work, every move with an
Idempotency-Key (a replay answers the same and changes nothing), errors in the one JSON shape,
and an order's fulfillments with status, events, tracking, readiness and deadline."""

from __future__ import annotations

import pytest

from fulfillment.models import WorkStatus
from inventory.models import StockMovement
from inventory.services import ledger_check
from tests.access.factories import issue_token
from tests.inventory.factories import StaffFactory

from .factories import place, place_bopis, receive, stock

pytestmark = pytest.mark.django_db

BASE = "/api/v1/fulfillment/works"


def wms(api_client, world, *locations):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web, 'fulfillment:write', locations=locations)}")
    return api_client


def post(client, url, body=None, key="k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body or {}, format="json", **headers)


def test_a_token_sees_and_moves_only_its_locations_work(api_client, world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    mine = place(world, "A-1", ("SHIRT", 1))
    theirs = place(world, "A-2", ("SHIRT", 1), lat=38.4, lon=27.1)
    assert (mine.location, theirs.location) == (world.ist, world.izm)
    client = wms(api_client, world, world.ist)
    listed = client.get(BASE).json()
    assert [w["id"] for w in listed["results"]] == [mine.pk]
    resp = post(client, f"{BASE}/{theirs.pk}/start")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "unknown_work"
    assert client.get(f"{BASE}/{theirs.pk}").status_code == 404
    nowhere = wms(api_client, world)  # a token with no locations fulfils nowhere
    assert nowhere.get(BASE).json()["results"] == []
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web, 'orders:write')}")
    assert api_client.get(BASE).status_code == 403


def test_pick_pack_ship_through_the_api_with_idempotent_replays(api_client, world):
    receive(world.shirt, world.ist, 5)
    work = place(world, "A-3", ("SHIRT", 2))
    line = work.lines.get()
    client = wms(api_client, world, world.ist)
    resp = post(client, f"{BASE}/{work.pk}/pick", {"line": line.pk, "quantity": 2}, key="pick-1")
    assert resp.status_code == 200 and resp.json()["status"] == "picked"
    again = post(client, f"{BASE}/{work.pk}/pick", {"line": line.pk, "quantity": 2}, key="pick-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true" and again.json() == resp.json()
    line.refresh_from_db()
    assert line.picked == 2
    reused = post(client, f"{BASE}/{work.pk}/pick", {"line": line.pk, "quantity": 1}, key="pick-1")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
    missing = post(client, f"{BASE}/{work.pk}/pack", {"box_type": "M"}, key=None)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "idempotency_key_required"
    assert post(client, f"{BASE}/{work.pk}/pack", {"box_type": "M"}, key="pack-1").json()["status"] == "packed"
    bad = post(client, f"{BASE}/{work.pk}/ship", {"carrier": "UPS"}, key="ship-0")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid" and "tracking_number" in bad.json()["error"]["message"]
    shipped = post(client, f"{BASE}/{work.pk}/ship", {"tracking_number": "1Z999", "carrier": "UPS"}, key="ship-1")
    body = shipped.json()
    assert (body["status"], body["tracking_number"], body["on_time"]) == ("shipped", "1Z999", True)
    replay = post(client, f"{BASE}/{work.pk}/ship", {"tracking_number": "1Z999", "carrier": "UPS"}, key="ship-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert stock(world.shirt, world.ist) == (3, 0, 0)
    assert StockMovement.objects.filter(reason="fulfilment").count() == 1
    illegal = post(client, f"{BASE}/{work.pk}/pack", {}, key="pack-2")
    assert illegal.status_code == 409 and illegal.json()["error"]["code"] == "illegal_transition"
    assert ledger_check() == []


def test_reject_and_hand_over_through_the_api(api_client, world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    work = place_bopis(world, "A-4", ("SHIRT", 2), ("MUG", 1))
    shirt, mug = work.lines.get(product=world.shirt), work.lines.get(product=world.mug)
    client = wms(api_client, world, world.ist)
    bad = post(client, f"{BASE}/{work.pk}/reject", {"lines": [{"line": mug.pk, "quantity": 1, "reason": "lost"}]}, key="r-0")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    resp = post(client, f"{BASE}/{work.pk}/reject", {"lines": [{"line": mug.pk, "quantity": 1, "reason": "damaged"}]}, key="r-1")
    assert resp.status_code == 200
    assert stock(world.mug, world.ist) == (4, 0, 1)
    post(client, f"{BASE}/{work.pk}/pick", {"line": shirt.pk, "quantity": 2}, key="p-1")
    ready = post(client, f"{BASE}/{work.pk}/ready", key="ready-1").json()
    assert ready["ready_for_pickup"] is True and ready["pickup_code"]
    done = post(client, f"{BASE}/{work.pk}/hand-over", {"collector_name": "Can Demir", "id_kind": "passport",
                                                         "id_last_digits": "123", "lines": [{"line": shirt.pk, "quantity": 1}]},
                key="h-1").json()
    assert done["status"] == "collected"
    assert [ln for ln in done["lines"] if ln["sku"] == "SHIRT"][0] | {} == {
        "id": shirt.pk, "order_line": 1, "sku": "SHIRT", "quantity": 2, "picked": 2, "rejected": 0, "handed_over": 1,
        "cancelled": 1, "open": 0, "transfer_id": None}
    assert stock(world.shirt, world.ist) == (4, 0, 0)
    assert ledger_check() == []


def test_order_fulfillments_show_status_events_tracking_and_deadline(api_client, world):
    receive(world.shirt, world.ist, 5)
    work = place(world, "A-5", ("SHIRT", 1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web, 'orders:write')}")
    [out] = api_client.get(f"/api/v1/orders/{work.order_id}/fulfillments").json()
    assert (out["id"], out["status"], out["location"], out["kind"]) == (work.pk, WorkStatus.NEW, "ST-IST", "ship_from_store")
    assert out["deadline"] and out["events"][0]["kind"] == "created" and out["tracking_number"] == ""
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.market, 'orders:write')}")
    assert api_client.get(f"/api/v1/orders/{work.order_id}/fulfillments").status_code == 404
    api_client.credentials()
    api_client.force_authenticate(StaffFactory(username="izm", assigned=world.izm))
    assert api_client.get(f"/api/v1/orders/{work.order_id}/fulfillments").status_code == 404
    api_client.force_authenticate(StaffFactory(username="ist", assigned=world.ist))
    assert len(api_client.get(f"/api/v1/orders/{work.order_id}/fulfillments").json()) == 1


def test_the_schema_documents_the_fulfillment_api(api_client, world):
    api_client.force_authenticate(StaffFactory(username="schema-reader", is_staff=True))
    paths = api_client.get("/api/v1/schema/?format=json").json()["paths"]
    assert "/api/v1/fulfillment/works/{id}/hand-over" in paths and "/api/v1/orders/{id}/fulfillments" in paths


def test_a_short_receipt_through_the_api(api_client, world):
    from fulfillment.models import CustomerChoice
    from fulfillment.services import dispatch, pack, pick
    from orders.models import DeliveryMode
    from orders.services import order_create

    from .factories import order_input

    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input(
        "API-STS", ("SHIRT", 3), delivery_mode=DeliveryMode.BOPIS, pickup_location=world.izm.code, ship_to_store=True))
    work = order.fulfillment_works.get()
    pick(work=work, line=work.lines.get(), qty=3, actor="wms")
    pack(work=work, actor="wms")
    dispatch(work=work, actor="wms")
    client = wms(api_client, world, world.izm)
    line = work.lines.get().pk
    bad = post(client, f"{BASE}/{work.pk}/receive", {"lines": [{"line": line, "quantity": 9}]}, key="r-0")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_quantity"
    res = post(client, f"{BASE}/{work.pk}/receive", {"lines": [{"line": line, "quantity": 1}], "reason": "pallet short"}, key="r-1")
    assert res.status_code == 200, res.json()
    assert res.json()["status"] == "ready_for_pickup" and res.json()["lines"][0]["rejected"] == 2
    again = post(client, f"{BASE}/{work.pk}/receive", {"lines": [{"line": line, "quantity": 1}], "reason": "pallet short"}, key="r-1")
    assert again["Idempotent-Replayed"] == "true" and CustomerChoice.objects.get(work=work).lines[0]["quantity"] == 2
