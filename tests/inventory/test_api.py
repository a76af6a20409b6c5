"""The inventory API: reads, filters, the batch movement endpoint, its errors and idempotency."""

from __future__ import annotations

import pytest

from omni.access.models import Scope
from inventory import services
from inventory.models import CycleCount, StockLevel, StockMovement, Transfer
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, make_visible

from .factories import LocationFactory, MerchandiserFactory, ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/stock-movements"


@pytest.fixture
def world():
    store = LocationFactory(code="ST-A", kind="store", city="Izmir")
    other = LocationFactory(code="ST-B", kind="store", city="Ankara")
    dc = LocationFactory(code="DC-1", kind="dc", name="Central DC", city="Gebze")
    tee = ProductFactory(sku="TEE-M", name="Basic Tee M", barcode="8690000000011", velocity_class="A")
    jeans = ProductFactory(sku="JEANS-32", name="Slim Jeans 32", velocity_class="C")
    services.stock_receive(product=tee, location=store, quantity=10)
    services.stock_receive(product=tee, location=dc, quantity=50)
    services.stock_receive(product=jeans, location=other, quantity=3)
    return {"store": store, "other": other, "dc": dc, "tee": tee, "jeans": jeans}


@pytest.fixture
def admin_client(api_client):
    api_client.force_authenticate(MerchandiserFactory(username="merch"))
    return api_client


def state():
    return (
        sorted(StockLevel.objects.values_list("product__sku", "location__code", "on_hand", "reserved", "damaged")),
        StockMovement.objects.count(),
        Transfer.objects.count(),
        CycleCount.objects.count(),
    )


def on_hand(sku: str, loc: str) -> int:
    return StockLevel.objects.get(product__sku=sku, location__code=loc).on_hand


def test_locations_filter_by_kind_and_search(admin_client, world):
    res = admin_client.get("/api/v1/locations/", {"kind": "store"})
    assert res.status_code == 200
    assert [row["code"] for row in res.json()["results"]] == ["ST-A", "ST-B"]
    res = admin_client.get("/api/v1/locations/", {"search": "gebze"})
    assert [row["code"] for row in res.json()["results"]] == ["DC-1"]
    assert admin_client.get("/api/v1/locations/DC-1/").json()["name"] == "Central DC"


def test_the_trailing_slash_is_optional(admin_client, world):
    # The router promised "/?" but SimpleRouter(trailing_slash="/?") made it "/" (found by mypy).
    assert admin_client.get("/api/v1/locations/DC-1").json()["name"] == "Central DC"
    assert admin_client.get("/api/v1/locations", {"kind": "store"}).status_code == 200
    assert admin_client.get("/api/v1/stock-levels").status_code == 200


def test_products_filter_search_and_barcode(admin_client, world):
    assert [p["sku"] for p in admin_client.get("/api/v1/products/", {"velocity_class": "A"}).json()["results"]] == ["TEE-M"]
    assert [p["sku"] for p in admin_client.get("/api/v1/products/", {"search": "jeans"}).json()["results"]] == ["JEANS-32"]
    assert [p["sku"] for p in admin_client.get("/api/v1/products/", {"barcode": "8690000000011"}).json()["results"]] == ["TEE-M"]
    body = admin_client.get("/api/v1/products/TEE-M/").json()
    assert (body["name"], body["barcodes"], body["price"]) == ("Basic Tee M", ["8690000000011"], "25.00")
    res = admin_client.get("/api/v1/products/NOPE/")
    assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"


def test_stock_levels_filters_and_pagination(admin_client, world):
    res = admin_client.get("/api/v1/stock-levels/", {"sku": "TEE-M"})
    rows = res.json()["results"]
    assert [(r["location"], r["on_hand"], r["available"]) for r in rows] == [("DC-1", 50, 50), ("ST-A", 10, 10)]
    rows = admin_client.get("/api/v1/stock-levels/", {"kind": "store"}).json()["results"]
    assert [(r["sku"], r["location"]) for r in rows] == [("JEANS-32", "ST-B"), ("TEE-M", "ST-A")]
    rows = admin_client.get("/api/v1/stock-levels/", {"location": "ST-B,DC-1"}).json()["results"]
    assert [(r["sku"], r["location"]) for r in rows] == [("JEANS-32", "ST-B"), ("TEE-M", "DC-1")]
    page = admin_client.get("/api/v1/stock-levels/", {"page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]


def test_partner_sees_only_its_channel_locations(api_client, world):
    web = ChannelFactory(code="web")
    make_visible(web, world["dc"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(web, Scope.STOCK_READ)}")
    rows = api_client.get("/api/v1/stock-levels/").json()["results"]
    assert [(r["sku"], r["location"]) for r in rows] == [("TEE-M", "DC-1")]


def test_batch_applies_each_item_and_reports_each(admin_client, world):
    payload = {"source": "erp", "movements": [
        {"external_id": "GRN-1", "kind": "receipt", "sku": "TEE-M", "location": "ST-A", "quantity": 5, "reference": "PO-9"},
        {"external_id": "POS-1", "kind": "sale", "sku": "TEE-M", "location": "ST-A", "quantity": 2},
        {"external_id": "RET-1", "kind": "return", "sku": "TEE-M", "location": "ST-A", "quantity": 1, "resellable": False},
        {"external_id": "ADJ-1", "kind": "adjustment", "sku": "TEE-M", "location": "ST-A", "quantity": -1, "reason": "shrinkage"},
        {"external_id": "DMG-1", "kind": "damage", "sku": "TEE-M", "location": "ST-A", "quantity": 1},
        {"external_id": "CNT-1", "kind": "count", "sku": "TEE-M", "location": "ST-A", "quantity": 9},
    ]}
    res = admin_client.post(URL, payload, format="json")
    assert res.status_code == 200, res.json()
    body = res.json()
    assert body["summary"] == {"applied": 6, "replayed": 0, "failed": 0}
    assert [r["stock"]["on_hand"] for r in body["results"]] == [15, 13, 13, 12, 11, 9]
    assert body["results"][4]["stock"]["damaged"] == 2
    assert on_hand("TEE-M", "ST-A") == 9
    receipt = StockMovement.objects.get(source="erp", external_id="GRN-1")
    assert (receipt.actor.username, receipt.reference) == ("merch", "PO-9")
    assert services.ledger_check() == []


def test_batch_replay_changes_nothing(admin_client, world):
    payload = {"source": "erp", "movements": [
        {"external_id": "GRN-1", "kind": "receipt", "sku": "TEE-M", "location": "ST-A", "quantity": 5},
        {"external_id": "CNT-1", "kind": "count", "sku": "TEE-M", "location": "ST-A", "quantity": 15},
    ]}
    first = admin_client.post(URL, payload, format="json").json()
    before = state()
    again = admin_client.post(URL, payload, format="json").json()
    assert again["summary"] == {"applied": 0, "replayed": 2, "failed": 0}
    assert [r["movement_ids"] for r in again["results"]] == [r["movement_ids"] for r in first["results"]]
    assert again["results"][1]["cycle_count_id"] == first["results"][1]["cycle_count_id"]
    assert state() == before


@pytest.mark.parametrize(
    "item, code, field",
    [
        ({"sku": "NOPE"}, "unknown_sku", "sku"),
        ({"location": "NOWHERE"}, "unknown_location", "location"),
        ({"quantity": -3}, "invalid_quantity", "quantity"),
        ({"quantity": 0}, "invalid_quantity", "quantity"),
        ({"quantity": 1.5}, "invalid_quantity", "quantity"),
        ({"quantity": "2"}, "invalid_quantity", "quantity"),
        ({"quantity": 11}, "insufficient_stock", "quantity"),
        ({"kind": "teleport"}, "invalid_choice", "kind"),
        ({"external_id": ""}, "blank", "external_id"),
        ({"kind": "adjustment", "quantity": -1}, "reason_required", "reason"),
        ({"kind": "transfer_out", "to_location": ""}, "required", "to_location"),
        ({"kind": "transfer_out", "to_location": "ST-A"}, "same_location", "to_location"),
        ({"kind": "transfer_in", "transfer": 999}, "unknown_transfer", "transfer"),
    ],
)
def test_bad_item_is_reported_and_changes_nothing_while_good_items_apply(admin_client, world, item, code, field):
    bad = {"external_id": "BAD-1", "kind": "sale", "sku": "TEE-M", "location": "ST-A", "quantity": 1, **item}
    good = {"external_id": "OK-1", "kind": "receipt", "sku": "JEANS-32", "location": "ST-B", "quantity": 2}
    before = state()
    res = admin_client.post(URL, {"source": "pos", "movements": [bad, good]}, format="json")
    assert res.status_code == 207
    results = res.json()["results"]
    assert results[0]["status"] == "error"
    assert (results[0]["error"]["code"], results[0]["error"]["field"]) == (code, field)
    assert results[0]["error"]["message"]
    assert results[1]["status"] == "applied"
    # only the good item changed stock
    assert on_hand("TEE-M", "ST-A") == 10
    assert on_hand("JEANS-32", "ST-B") == 5
    assert StockMovement.objects.count() == before[1] + 1


def test_duplicate_external_id_with_other_content_is_refused(admin_client, world):
    item = {"external_id": "POS-7", "kind": "sale", "sku": "TEE-M", "location": "ST-A", "quantity": 1}
    admin_client.post(URL, {"source": "pos", "movements": [item]}, format="json")
    before = state()
    res = admin_client.post(URL, {"source": "pos", "movements": [{**item, "quantity": 2}]}, format="json")
    err = res.json()["results"][0]["error"]
    assert (res.status_code, err["code"], err["field"]) == (207, "duplicate_external_id", "external_id")
    assert "POS-7" in err["message"]
    assert state() == before


def test_a_count_reusing_another_movements_external_id_is_refused_as_a_duplicate(admin_client, world):
    """A count whose external_id was already used for a sale (same source) is that item's
    duplicate_external_id error, like any other kind; it was an unexpected database error
    (item_failed, found by the stateful schema fuzz)."""
    sale = {"external_id": "POS-8", "kind": "sale", "sku": "TEE-M", "location": "ST-A", "quantity": 1}
    admin_client.post(URL, {"source": "pos", "movements": [sale]}, format="json")
    before, counts = state(), CycleCount.objects.count()
    count = {"external_id": "POS-8", "kind": "count", "sku": "TEE-M", "location": "ST-A", "quantity": 4}
    res = admin_client.post(URL, {"source": "pos", "movements": [count]}, format="json")
    err = res.json()["results"][0]["error"]
    assert (res.status_code, err["code"], err["field"]) == (207, "duplicate_external_id", "external_id")
    assert (state(), CycleCount.objects.count()) == (before, counts)


def test_insufficient_stock_message_names_sku_and_location(admin_client, world):
    res = admin_client.post(URL, {"movements": [
        {"external_id": "S-1", "kind": "sale", "sku": "TEE-M", "location": "ST-A", "quantity": 11},
    ]}, format="json")
    message = res.json()["results"][0]["error"]["message"]
    assert "TEE-M" in message and "ST-A" in message and "10 on hand" in message


def test_transfer_out_and_in_through_the_api(admin_client, world):
    res = admin_client.post(URL, {"source": "wms", "movements": [
        {"external_id": "TO-1", "kind": "transfer_out", "sku": "TEE-M", "location": "DC-1", "to_location": "ST-B", "quantity": 4},
    ]}, format="json").json()
    transfer_id = res["results"][0]["transfer_id"]
    assert on_hand("TEE-M", "DC-1") == 46
    res = admin_client.post(URL, {"source": "pos", "movements": [
        {"external_id": "TI-1", "kind": "transfer_in", "transfer": transfer_id, "location": "ST-B", "quantity": 4},
    ]}, format="json")
    assert res.status_code == 200, res.json()
    assert on_hand("TEE-M", "ST-B") == 4
    again = admin_client.post(URL, {"source": "pos", "movements": [
        {"external_id": "TI-1", "kind": "transfer_in", "transfer": transfer_id, "location": "ST-B", "quantity": 4},
    ]}, format="json").json()
    assert again["results"][0]["status"] == "replayed"
    assert on_hand("TEE-M", "ST-B") == 4
    assert Transfer.objects.get(pk=transfer_id).status == "received"
    assert services.ledger_check() == []


@pytest.mark.parametrize("payload, code", [
    ({"movements": []}, "invalid_batch_size"),
    ({"movements": "x"}, "invalid"),
    ({"nothing": 1}, "invalid"),
])
def test_malformed_batch_is_refused_whole(admin_client, world, payload, code):
    before = state()
    res = admin_client.post(URL, payload, format="json")
    assert res.status_code == 400 and res.json()["error"]["code"] == code
    assert state() == before


def test_partner_posts_as_its_channel(api_client, world):
    pos = ChannelFactory(code="pos", kind="pos")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(pos, Scope.STOCK_WRITE, locations=[world['store']])}")
    item = {"external_id": "T-1", "kind": "sale", "sku": "TEE-M", "location": "ST-A", "quantity": 1}
    res = api_client.post(URL, {"movements": [item]}, format="json")
    assert res.json()["source"] == "pos"
    assert StockMovement.objects.get(external_id="T-1").source == "pos"
    res = api_client.post(URL, {"source": "erp", "movements": [item]}, format="json")
    assert (res.status_code, res.json()["error"]["code"]) == (403, "source_mismatch")


def test_store_staff_cannot_post_as_a_channel(api_client, world):
    ChannelFactory(code="pos", kind="pos")
    api_client.force_authenticate(StaffFactory(username="s", assigned=world["store"]))
    item = {"external_id": "till-1", "kind": "sale", "sku": "TEE-M", "location": "ST-A", "quantity": 1}
    before = state()
    res = api_client.post(URL, {"source": "pos", "movements": [item]}, format="json")
    assert (res.status_code, res.json()["error"]["code"]) == (403, "source_forbidden")
    assert state() == before
    res = api_client.post(URL, {"source": "store-app", "movements": [item]}, format="json")
    assert res.status_code == 200 and StockMovement.objects.get(external_id="till-1").source == "store-app"


def test_schema_and_docs_are_served(admin_client):
    schema = admin_client.get("/api/v1/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/stock-movements:", "/api/v1/stock-levels:", "/api/v1/locations:", "/api/v1/products:", "/api/v1/ledger/check:"):
        assert path in text
    assert admin_client.get("/api/v1/docs/").status_code == 200


def test_schema_generates_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_bad_filter_value_is_a_clear_400(admin_client, world):
    res = admin_client.get("/api/v1/stock-levels/", {"kind": "moon"})
    body = res.json()["error"]
    assert (res.status_code, body["code"], list(body["details"])) == (400, "invalid", ["kind"])
    assert "moon" in body["message"]


def test_ledger_read_filters_and_shows_who(admin_client, world):
    admin_client.post(URL, {"source": "erp", "movements": [
        {"external_id": "GRN-1", "kind": "receipt", "sku": "TEE-M", "location": "ST-A", "quantity": 5},
        {"external_id": "GRN-2", "kind": "receipt", "sku": "JEANS-32", "location": "ST-B", "quantity": 1},
    ]}, format="json")
    rows = admin_client.get(URL, {"source": "erp"}).json()["results"]
    assert [(r["external_id"], r["sku"], r["location"], r["quantity"], r["balance_after"], r["actor"]) for r in rows] == [
        ("GRN-2", "JEANS-32", "ST-B", 1, 4, "merch"),
        ("GRN-1", "TEE-M", "ST-A", 5, 15, "merch"),
    ]
    rows = admin_client.get(URL, {"location": "ST-A", "reason": "receipt"}).json()["results"]
    assert [(r["source"], r["quantity"]) for r in rows] == [("erp", 5), ("omni", 10)]


def test_partner_reads_the_ledger_of_its_locations_only(api_client, world):
    pos = ChannelFactory(code="pos", kind="pos")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(pos, Scope.STOCK_READ, locations=[world['store']])}")
    rows = api_client.get(URL).json()["results"]
    assert {r["location"] for r in rows} == {"ST-A"}
    res = api_client.post(URL, {"movements": [
        {"external_id": "x", "kind": "sale", "sku": "TEE-M", "location": "ST-A", "quantity": 1},
    ]}, format="json")
    assert res.status_code == 403  # reading is not writing: no stock:write scope
