"""Whatever a client sends, the API answers with the JSON error shape and a stable code, never an
HTML page, and a refused request changes nothing."""

from __future__ import annotations

import json

import pytest

from inventory import services
from inventory.models import StockLevel, StockMovement
from orders.models import Order
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, make_visible
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merch():
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(MerchandiserFactory(username="merch"))
    return client


@pytest.fixture
def shop():
    store = LocationFactory(code="ST-A", kind="store", latitude=41.0, longitude=29.0)
    tee = ProductFactory(sku="TEE-M")
    services.stock_receive(product=tee, location=store, quantity=10)
    web = ChannelFactory(code="web")
    make_visible(web, store)
    return {"store": store, "tee": tee, "web": web}


def partner(api_client, channel):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(channel)}")
    return api_client


def error_of(res, status: int) -> dict:
    assert res.status_code == status, res.content[:300]
    assert res["Content-Type"].startswith("application/json"), res["Content-Type"]
    return res.json()["error"]


def ledger():
    return StockMovement.objects.count(), sorted(StockLevel.objects.values_list("product__sku", "location__code", "on_hand"))


def test_an_unknown_api_path_is_a_json_404(merch):
    assert error_of(merch.get("/api/v1/no-such-thing"), 404)["code"] == "not_found"
    assert error_of(merch.get("/api/v2/orders"), 404)["code"] == "not_found"


def test_an_over_long_url_is_a_json_414(merch):
    assert error_of(merch.get("/api/v1/products/" + "A" * 5000), 414)["code"] == "uri_too_long"
    assert error_of(merch.get("/api/v1/products/", {"sku": "A" * 9000}), 414)["code"] == "uri_too_long"


def test_nul_and_control_characters_in_a_lookup_or_a_filter_are_refused(merch, shop):
    assert error_of(merch.get("/api/v1/products/TEE%00M/"), 400)["code"] == "control_character"
    err = error_of(merch.get("/api/v1/stock-levels/", {"sku": "TEE\x00M"}), 400)
    assert err["code"] == "control_character" and "sku" in err["message"]
    assert error_of(merch.get("/api/v1/locations/", {"search": "a\x1bb"}), 400)["code"] == "control_character"


def test_a_body_over_the_limit_is_a_json_413_and_changes_nothing(merch, shop, settings):
    settings.OMNI_API_MAX_BODY_BYTES = 2000
    before = ledger()
    movements = [{"external_id": f"R-{i}", "kind": "receipt", "sku": "TEE-M", "location": "ST-A", "quantity": 1} for i in range(40)]
    err = error_of(merch.post("/api/v1/stock-movements", {"movements": movements}, format="json"), 413)
    assert err["code"] == "request_too_large" and err["details"]["limit_bytes"] == 2000
    assert ledger() == before


def test_deeply_nested_json_is_a_400_not_a_crash(merch, shop):
    deep = "[" * 100_000 + "]" * 100_000
    err = error_of(merch.generic("POST", "/api/v1/stock-movements", deep, content_type="application/json"), 400)
    assert err["code"] == "too_deep"
    nested = {"movements": [{"external_id": "X", "kind": "receipt", "sku": "TEE-M", "location": "ST-A", "quantity": 1,
                             "reference": json.loads("[" * 40 + "]" * 40)}]}
    assert error_of(merch.post("/api/v1/stock-movements", nested, format="json"), 400)["code"] == "too_deep"


def test_malformed_json_and_nan_are_400_json(merch):
    err = error_of(merch.generic("POST", "/api/v1/orders", '{"lines": [', content_type="application/json"), 400)
    assert err["code"] == "malformed_request"
    err = error_of(merch.generic("POST", "/api/v1/orders", '{"latitude": NaN}', content_type="application/json"), 400)
    assert err["code"] == "malformed_request"


def test_nul_in_a_json_string_is_refused_naming_where_and_nothing_changes(merch, shop):
    before = ledger()
    body = {"movements": [{"external_id": "R-1", "kind": "receipt", "sku": "TEE-M", "location": "ST-A", "quantity": 1},
                          {"external_id": "R-2\x00", "kind": "receipt", "sku": "TEE-M", "location": "ST-A", "quantity": 1}]}
    err = error_of(merch.post("/api/v1/stock-movements", body, format="json"), 400)
    assert err["code"] == "control_character" and "movements[1].external_id" in err["details"]
    assert ledger() == before


def test_a_json_api_accepts_no_form_bodies(merch, shop):
    err = error_of(merch.post("/api/v1/holds", {"lines": "x"}), 415)  # multipart from the test client
    assert err["code"] == "unsupported_media_type"


def test_the_changes_feed_refuses_a_limit_out_of_range(api_client, shop):
    client = partner(api_client, shop["web"])
    for limit in (-1, 0, 1001):
        assert error_of(client.get("/api/v1/availability/changes", {"limit": limit}), 400)["code"] == "invalid_limit"
    assert client.get("/api/v1/availability/changes", {"limit": 1000}).status_code == 200


def test_an_order_line_over_the_quantity_bound_is_refused_before_anything_is_written(api_client, shop):
    client = partner(api_client, shop["web"])
    for quantity, code in ((2**31, "quantity_out_of_range"), (10**30, "quantity_out_of_range"), (0, "invalid_quantity")):
        res = client.post("/api/v1/orders", {"external_id": f"O-{quantity}", "latitude": 41.0, "longitude": 29.0,
                                             "lines": [{"sku": "TEE-M", "quantity": quantity}]},
                          format="json", HTTP_IDEMPOTENCY_KEY=f"k-{quantity}")
        err = error_of(res, 400)
        assert err["code"] == code and "lines" in err["details"]
    assert Order.objects.count() == 0
    assert StockLevel.objects.get().reserved == 0


def test_a_hold_and_a_snapshot_over_the_bound_are_refused(api_client, shop, merch):
    client = partner(api_client, shop["web"])
    res = client.post("/api/v1/holds", {"lines": [{"sku": "TEE-M", "quantity": 2**40}]}, format="json")
    assert error_of(res, 400)["code"] == "quantity_out_of_range"
    before = ledger()
    res = merch.post("/api/v1/stock-snapshots", {"location": "ST-A", "external_id": "S-1",
                                                 "lines": [{"sku": "TEE-M", "counted": 2**31}]}, format="json")
    assert error_of(res, 400)
    assert ledger() == before


def test_an_unexpected_error_in_a_view_is_a_json_500(merch, shop, monkeypatch):
    import inventory.api.views as views

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "stock_levels", broken)
    err = error_of(merch.get("/api/v1/stock-levels/"), 500)
    assert err["code"] == "server_error" and "boom" not in err["message"]
