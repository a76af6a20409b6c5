"""The permission matrix: who may see or do what, through the real API and admin site."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from omni.access.models import Scope
from inventory import services
from inventory.models import StockLevel, StockMovement
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, make_visible
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

APPLIED, DENIED = "applied", "denied"  # per-item outcome of a movement post


@pytest.fixture
def world():
    a = LocationFactory(code="ST-A")
    b = LocationFactory(code="ST-B")
    sku = ProductFactory(sku="TEE-M")
    services.stock_receive(product=sku, location=a, quantity=10)
    services.stock_receive(product=sku, location=b, quantity=10)
    web = ChannelFactory(code="web")
    make_visible(web, a, b)
    return {"a": a, "b": b, "web": web}


def client_for(who: str, world) -> APIClient:
    client = APIClient()
    if who == "merchandiser":
        client.force_login(MerchandiserFactory(username="merch"))
    elif who == "staff_a":
        client.force_login(StaffFactory(username="staff-a", assigned=world["a"]))
    elif who == "staff_b":
        client.force_login(StaffFactory(username="staff-b", assigned=world["b"]))
    elif who == "no_role_user":
        client.force_login(UserFactory(username="nobody"))
    elif who == "partner_rw":
        client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world['web'], Scope.STOCK_READ, Scope.STOCK_WRITE)}")
    elif who == "partner_no_scope":
        client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world['web'], Scope.AVAILABILITY_READ)}")
    elif who == "partner_at_a":
        key = issue_token(world["web"], Scope.STOCK_READ, Scope.STOCK_WRITE, locations=[world["a"]])
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def post_sale(client: APIClient, location: str, ext: str):
    res = client.post("/api/v1/stock-movements", {"movements": [
        {"external_id": ext, "kind": "sale", "sku": "TEE-M", "location": location, "quantity": 1},
    ]}, format="json")
    if res.status_code not in (200, 207):
        return res.status_code
    item = res.json()["results"][0]
    if item["status"] == "error":
        assert item["error"]["code"] == "permission_denied", item
        return DENIED
    return item["status"]


# who: (view stock, post at A, post at B, admin-only API, admin site)
MATRIX = {
    "merchandiser":     (200, APPLIED, APPLIED, 200, 200),
    "staff_a":          (200, APPLIED, DENIED, 403, 302),
    "staff_b":          (200, DENIED, APPLIED, 403, 302),
    "partner_rw":       (200, APPLIED, APPLIED, 403, 302),
    "partner_no_scope": (403, 403, 403, 403, 302),
    "partner_at_a":     (200, APPLIED, DENIED, 403, 302),
    "no_role_user":     (403, 403, 403, 403, 302),
    "anonymous":        (401, 401, 401, 401, 302),
}


@pytest.mark.parametrize("who", MATRIX)
def test_permission_matrix(world, who):
    client = client_for(who, world)
    got = (
        client.get("/api/v1/stock-levels/").status_code,
        post_sale(client, "ST-A", f"{who}-a"),
        post_sale(client, "ST-B", f"{who}-b"),
        client.get("/api/v1/ledger/check").status_code,
        client.get("/admin/").status_code,
    )
    assert got == MATRIX[who]
    # what was refused changed nothing: exactly the applied sales left the shelves
    expected = {"ST-A": 10 - (got[1] == APPLIED), "ST-B": 10 - (got[2] == APPLIED)}
    assert dict(StockLevel.objects.values_list("location__code", "on_hand")) == expected
    assert StockMovement.objects.filter(reason="sale").count() == (got[1] == APPLIED) + (got[2] == APPLIED)


def test_denied_item_names_the_location(world):
    client = client_for("staff_a", world)
    res = client.post("/api/v1/stock-movements", {"movements": [
        {"external_id": "x", "kind": "receipt", "sku": "TEE-M", "location": "ST-B", "quantity": 100},
    ]}, format="json").json()
    err = res["results"][0]["error"]
    assert (err["code"], err["field"]) == ("permission_denied", "location")
    assert "ST-B" in err["message"]


def test_store_staff_cannot_ship_another_stores_stock_or_book_in_its_transfer(world):
    client = client_for("staff_a", world)
    res = client.post("/api/v1/stock-movements", {"movements": [
        {"external_id": "t1", "kind": "transfer_out", "sku": "TEE-M", "location": "ST-B", "to_location": "ST-A", "quantity": 5},
    ]}, format="json").json()
    assert res["results"][0]["error"]["code"] == "permission_denied"
    transfer = services.transfer_ship(product=world["a"].stock_levels.first().product, from_location=world["a"],
                                      to_location=world["b"], quantity=2).transfer
    res = client.post("/api/v1/stock-movements", {"movements": [
        {"external_id": "t2", "kind": "transfer_in", "transfer": transfer.pk},
    ]}, format="json").json()
    assert res["results"][0]["error"]["code"] == "permission_denied"
    assert dict(StockLevel.objects.values_list("location__code", "on_hand")) == {"ST-A": 8, "ST-B": 10}


def test_disabled_token_is_refused(world):
    client = client_for("partner_rw", world)
    from omni.access.models import PartnerToken

    PartnerToken.objects.update(is_active=False)
    res = client.get("/api/v1/stock-levels/")
    assert (res.status_code, res.json()["error"]["code"]) == (401, "authentication_failed")


def test_merchandiser_ledger_check_reports_drift(world):
    client = client_for("merchandiser", world)
    assert client.get("/api/v1/ledger/check").json() == {"ok": True, "stock_levels_checked": 2, "discrepancies": []}
    StockLevel.objects.filter(location__code="ST-B").update(on_hand=12)  # a write that bypassed the services
    body = client.get("/api/v1/ledger/check").json()
    assert body["ok"] is False
    assert [(d["sku"], d["location"], d["field"], d["recorded"], d["expected"]) for d in body["discrepancies"]] == [
        ("TEE-M", "ST-B", "on_hand", 12, 10)
    ]


@pytest.mark.parametrize("who, visible", [
    ("merchandiser", ["ST-A", "ST-B"]),
    ("staff_b", ["ST-A", "ST-B"]),  # staff look up a neighbour store's stock for a customer
    ("partner_at_a", ["ST-A"]),
])
def test_stock_read_scope(world, who, visible):
    rows = client_for(who, world).get("/api/v1/stock-levels/").json()["results"]
    assert [r["location"] for r in rows] == visible
