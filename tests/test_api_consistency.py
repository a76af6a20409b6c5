"""One API, one set of habits: every path answers with or without a trailing slash, ``sku=A,B``
means the same everywhere, and cancel is safe to repeat (with or without an Idempotency-Key)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from inventory import services
from orders.models import Order, OrderStatus
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, make_visible
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    store = LocationFactory(code="ST-A", kind="store", latitude=41.0, longitude=29.0)
    web = ChannelFactory(code="web")
    make_visible(web, store)
    for sku in ("A-1", "B-1", "C-1"):
        services.stock_receive(product=ProductFactory(sku=sku), location=store, quantity=5)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(web)}")
    return client


@pytest.fixture
def merch():
    client = APIClient()
    client.force_authenticate(MerchandiserFactory(username="merch"))
    return client


@pytest.mark.parametrize("path", ["/api/v1/locations", "/api/v1/products/A-1", "/api/v1/stock-levels", "/api/v1/orders",
                                  "/api/v1/stock-movements", "/api/v1/ledger/check", "/api/v1/availability/changes?channel=web"])
def test_every_path_answers_with_or_without_a_trailing_slash(merch, shop, path):
    base, _, query = path.partition("?")
    without = merch.get(base + ("?" + query if query else ""))
    with_slash = merch.get(base + "/" + ("?" + query if query else ""))
    assert without.status_code == with_slash.status_code == 200
    assert without.json() == with_slash.json()


def test_sku_a_comma_b_means_the_same_everywhere(merch, shop):
    def skus(res, key="sku"):
        assert res.status_code == 200, res.content
        body = res.json()
        rows = body["results"] if isinstance(body, dict) and "results" in body else body["items"]
        return sorted({row[key] for row in rows})

    assert skus(merch.get("/api/v1/products", {"sku": "A-1,B-1"})) == ["A-1", "B-1"]
    assert skus(merch.get("/api/v1/stock-levels", {"sku": "A-1,B-1"})) == ["A-1", "B-1"]
    assert skus(merch.get("/api/v1/stock-movements", {"sku": "A-1,B-1"})) == ["A-1", "B-1"]
    assert skus(shop.get("/api/v1/availability", {"sku": "A-1,B-1"})) == ["A-1", "B-1"]
    assert skus(shop.get("/api/v1/availability?sku=A-1&sku=B-1")) == ["A-1", "B-1"]


def _order(shop) -> int:
    res = shop.post("/api/v1/orders", {"external_id": "O-1", "latitude": 41.0, "longitude": 29.0,
                                       "lines": [{"sku": "A-1", "quantity": 2}]}, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def test_a_repeated_cancel_confirms_instead_of_erroring(shop):
    pk = _order(shop)
    first = shop.post(f"/api/v1/orders/{pk}/cancel", {"reason": "changed mind"}, format="json")
    again = shop.post(f"/api/v1/orders/{pk}/cancel", {"reason": "changed mind"}, format="json")
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == OrderStatus.CANCELLED
    assert [e["kind"] for e in again.json()["events"]].count("cancelled") == 1


def test_cancel_with_an_idempotency_key_replays_its_answer(shop):
    pk = _order(shop)
    res = shop.post(f"/api/v1/orders/{pk}/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1")
    replay = shop.post(f"/api/v1/orders/{pk}/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert res.status_code == replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == res.json()
    other = shop.post(f"/api/v1/orders/{pk}/cancel", {"reason": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.get(pk=pk).status == OrderStatus.CANCELLED


def test_empty_lines_an_empty_key_and_an_empty_sku_are_refused_as_the_schema_says(shop, merch):
    res = shop.post("/api/v1/orders", {"external_id": "E", "lines": []}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert res.status_code == 400
    schema = merch.get("/api/v1/schema/?format=json").json()
    create = schema["paths"]["/api/v1/orders"]["post"]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] and key["schema"]["minLength"] == 1
    body = schema["components"]["schemas"]["OrderCreateRequest"]
    assert body["properties"]["lines"]["minItems"] == 1
    assert list(create["requestBody"]["content"]) == ["application/json"]
    sku = next(p for p in schema["paths"]["/api/v1/availability"]["get"]["parameters"] if p["name"] == "sku")
    assert sku["explode"] is False and sku["schema"]["items"]["minLength"] == 1
    assert "404" in schema["paths"]["/api/v1/orders/{id}"]["get"]["responses"]


def test_every_state_changing_operation_takes_an_idempotency_key_of_one_shape(merch):
    """Issue 14: every write documents the same header (1–255 printable ASCII characters): required on
    order intake, pin, customer answers and fulfilment moves, optional everywhere else."""
    from omni.idempotency import KEY_SCHEMA

    schema = merch.get("/api/v1/schema/?format=json").json()
    keys = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("post", "put", "patch", "delete"):
                found = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
                keys[f"{method.upper()} {path}"] = (found[0]["in"], found[0]["schema"], found[0].get("required", False)) if found else None
    assert [op for op, key in keys.items() if key is None] == []
    assert {op for op, (where, shape, _r) in keys.items() if (where, shape) != ("header", KEY_SCHEMA)} == set()
    optional = {op for op, (_w, _s, required) in keys.items() if not required}
    assert optional == {"POST /api/v1/holds", "DELETE /api/v1/holds/{id}", "POST /api/v1/orders/{id}/cancel",
                        "POST /api/v1/orders/{id}/returns", "POST /api/v1/stock-movements", "POST /api/v1/stock-snapshots",
                        "POST /api/v1/imports/stock", "POST /api/v1/imports/stock/{id}/cancel"}


def test_a_key_of_255_characters_is_taken_on_a_fulfilment_move_too(shop):
    """The schema allows 255 characters; a move's key is kept in its own namespace and still fits."""
    from fulfillment.models import Work

    from inventory.models import Location

    pk = _order(shop)
    work = Work.objects.get(order_id=pk)
    shop = APIClient()  # the store's own system
    shop.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(work.order.channel, locations=[Location.objects.get(code='ST-A')])}")
    long_key = "k" * 255
    first = shop.post(f"/api/v1/fulfillment/works/{work.pk}/start", {}, format="json", HTTP_IDEMPOTENCY_KEY=long_key)
    again = shop.post(f"/api/v1/fulfillment/works/{work.pk}/start", {}, format="json", HTTP_IDEMPOTENCY_KEY=long_key)
    assert first.status_code == again.status_code == 200, first.json()
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    too_long = shop.post(f"/api/v1/fulfillment/works/{work.pk}/start", {}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "idempotency_key_required"


def test_every_call_that_takes_an_idempotency_key_documents_the_replay_header(merch):
    """A partner reads from the schema which answers may carry ``Idempotent-Replayed: true``."""
    schema = merch.get("/api/v1/schema/?format=json").json()
    keyed = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()
             if any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", []))]
    assert len(keyed) >= 15
    for path, method, op in keyed:
        for status, response in op["responses"].items():
            documented = "Idempotent-Replayed" in response.get("headers", {})
            replayable = status.startswith("2") or status in ("400", "404", "409", "422")
            assert documented == replayable, (method, path, status)
