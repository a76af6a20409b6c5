"""The delta feed and the snapshot file."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command

from allocation.sync.drain import sync_outbox_drain
from allocation.sync.publish import sync_event_publish
from inventory import services as stock
from omni.access.models import Scope

from ..access.factories import issue_token
from ..inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory
from .sync_helpers import sync_channel

pytestmark = pytest.mark.django_db

FEED = "/api/v1/availability/changes"


@pytest.fixture
def store():
    return LocationFactory(code="ST-01")


def auth(client, key):
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_feed_pages_through_own_channel_changes_with_a_cursor(api_client, store):
    web = sync_channel(code="web", locations=[store])
    app = sync_channel(code="app", locations=[])
    skus = [ProductFactory(sku=f"SKU-{i}") for i in range(3)]
    for i, product in enumerate(skus):
        stock.stock_receive(product=product, location=store, quantity=i + 1)
    sync_outbox_drain()
    sync_event_publish(channel=web, kind="shipped", payload={"order": "W-9"})
    client = auth(api_client, issue_token(web, Scope.AVAILABILITY_READ))

    first = client.get(FEED, {"limit": 2}).json()
    second = client.get(FEED, {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get(FEED, {"limit": 2, "cursor": second["next_cursor"]}).json()

    assert [(r["sku"], r["sequence"], r["available"]) for r in first["results"]] == [("SKU-0", 1, 1), ("SKU-1", 1, 2)]
    assert first["has_more"] is True
    assert [(r["type"], r.get("sku"), r.get("event")) for r in second["results"]] == [
        ("availability", "SKU-2", None), ("event", None, "shipped"),
    ]
    assert third == {"results": [], "next_cursor": second["next_cursor"], "has_more": False}
    # another channel's figures (app sees no location: its figures are 0) never show up
    assert all(r.get("available", 1) > 0 for r in first["results"] + second["results"])
    assert app.id != web.id


def test_feed_refuses_a_bad_cursor_and_a_partner_without_the_scope(api_client, store):
    web = sync_channel(code="web", locations=[store])
    client = auth(api_client, issue_token(web, Scope.AVAILABILITY_READ))
    bad = client.get(FEED, {"cursor": "abc"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"

    client = auth(api_client, issue_token(web, Scope.STOCK_READ))
    assert client.get(FEED).status_code == 403


def test_merchandiser_names_the_channel_and_gets_the_snapshot_csv(api_client, store):
    web = sync_channel(code="web", locations=[store])
    stock.stock_receive(product=ProductFactory(sku="A-1", name="Alpha"), location=store, quantity=4)
    stock.stock_receive(product=ProductFactory(sku="B-2", name="Beta"), location=LocationFactory(code="DC-9"), quantity=9)
    api_client.force_login(MerchandiserFactory())

    missing = api_client.get("/api/v1/availability/snapshot.csv")
    response = api_client.get("/api/v1/availability/snapshot.csv", {"channel": "web"})

    assert missing.status_code == 400 and missing.json()["error"]["code"] == "channel_required"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["sku", "name", "available"], ["A-1", "Alpha", "4"], ["B-2", "Beta", "0"]]
    out = io.StringIO()
    call_command("sync_snapshot_csv", "--channel", web.code, stdout=out)
    assert out.getvalue().splitlines() == ["sku,name,available", "A-1,Alpha,4", "B-2,Beta,0"]
