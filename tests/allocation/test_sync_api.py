"""The delta feed, the snapshot file, inbound stock snapshots, the nightly ledger alert."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command

from allocation.models import Alert, SnapshotLineStatus, StockSnapshotLine
from allocation.sync.reconcile import ledger_alert_check, snapshot_line_approve, snapshot_line_reject
from allocation.sync.services import sync_event_publish, sync_outbox_drain
from inventory import services as stock
from inventory.models import CycleCount, StockLevel, StockMovement
from omni.access.models import Scope
from omni.errors import IllegalTransition

from ..access.factories import issue_token
from ..inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory
from .sync_helpers import sync_channel

pytestmark = pytest.mark.django_db

FEED = "/api/v1/availability/changes"
SNAPSHOTS = "/api/v1/stock-snapshots"


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


def _setup_snapshot(store):
    small, big, same = ProductFactory(sku="SMALL"), ProductFactory(sku="BIG"), ProductFactory(sku="SAME")
    stock.stock_receive(product=small, location=store, quantity=20)
    stock.stock_receive(product=big, location=store, quantity=50)
    stock.stock_receive(product=same, location=store, quantity=7)
    return small, big, same


def on_hand(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).on_hand


def test_snapshot_applies_small_variances_and_holds_large_ones_for_approval(api_client, store):
    pos = sync_channel(code="pos", locations=[store])
    small, big, same = _setup_snapshot(store)
    client = auth(api_client, issue_token(pos, Scope.STOCK_WRITE, locations=[store]))

    response = client.post(SNAPSHOTS, {"location": "ST-01", "external_id": "cnt-1", "lines": [
        {"sku": "SMALL", "counted": 18}, {"sku": "BIG", "counted": 30}, {"sku": "SAME", "counted": 7},
    ]}, format="json")

    assert response.status_code == 201
    lines = {l["sku"]: (l["system_quantity"], l["variance"], l["status"]) for l in response.json()["lines"]}
    assert lines == {"SMALL": (20, -2, "applied"), "BIG": (50, -20, "pending"), "SAME": (7, 0, "unchanged")}
    assert (on_hand(small, store), on_hand(big, store), on_hand(same, store)) == (18, 50, 7)
    assert CycleCount.objects.count() == 2  # accuracy: one miss (SMALL), one hit (SAME)
    assert sorted(CycleCount.objects.values_list("variance", flat=True)) == [-2, 0]

    # the same snapshot again is a replay, not a second correction
    again = client.post(SNAPSHOTS, {"location": "ST-01", "external_id": "cnt-1", "lines": [{"sku": "SMALL", "counted": 18}]}, format="json")
    assert again.json()["id"] == response.json()["id"] and on_hand(small, store) == 18

    held = StockSnapshotLine.objects.get(product=big)
    stock.stock_sell(product=big, location=store, quantity=5)  # a sale after the count is kept
    approved = snapshot_line_approve(line=held, actor=MerchandiserFactory())
    assert approved.status == SnapshotLineStatus.APPLIED and on_hand(big, store) == 25
    with pytest.raises(IllegalTransition):
        snapshot_line_approve(line=held, actor=None)
    assert stock.ledger_check() == []


def test_rejected_line_keeps_the_ledger(store):
    from allocation.sync.reconcile import SnapshotLineInput, stock_snapshot_apply

    _, big, _ = _setup_snapshot(store)
    snapshot = stock_snapshot_apply(location=store, lines=[SnapshotLineInput("BIG", 0)])
    line = snapshot.lines.get()
    assert line.status == SnapshotLineStatus.PENDING
    assert snapshot_line_reject(line=line, actor=None).status == SnapshotLineStatus.REJECTED
    assert on_hand(big, store) == 50


def test_bad_snapshot_changes_nothing(api_client, store):
    pos = sync_channel(code="pos", locations=[store])
    _setup_snapshot(store)
    before = (StockMovement.objects.count(), StockSnapshotLine.objects.count())
    client = auth(api_client, issue_token(pos, Scope.STOCK_WRITE, locations=[store]))

    unknown = client.post(SNAPSHOTS, {"location": "ST-01", "lines": [{"sku": "SMALL", "counted": 1}, {"sku": "NOPE", "counted": 1}]}, format="json")
    negative = client.post(SNAPSHOTS, {"location": "ST-01", "lines": [{"sku": "SMALL", "counted": -1}]}, format="json")
    no_place = client.post(SNAPSHOTS, {"location": "XX", "lines": [{"sku": "SMALL", "counted": 1}]}, format="json")

    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "invalid_snapshot"
    assert "NOPE" in unknown.json()["error"]["message"]
    assert negative.status_code == 400
    assert no_place.status_code == 404
    assert (StockMovement.objects.count(), StockSnapshotLine.objects.count()) == before


def test_partner_may_post_snapshots_only_for_its_own_locations(api_client, store):
    pos = sync_channel(code="pos", locations=[store])
    other = LocationFactory(code="ST-02")
    _setup_snapshot(store)
    client = auth(api_client, issue_token(pos, Scope.STOCK_WRITE, locations=[store]))

    response = client.post(SNAPSHOTS, {"location": other.code, "lines": [{"sku": "SMALL", "counted": 1}]}, format="json")

    assert response.status_code == 403
    assert StockSnapshotLine.objects.count() == 0


def test_nightly_ledger_check_raises_an_alert_on_drift(store):
    small, _, _ = _setup_snapshot(store)
    assert ledger_alert_check() == 0 and Alert.objects.count() == 0

    StockLevel.objects.filter(product=small, location=store).update(on_hand=21)  # drift behind the ledger's back

    assert ledger_alert_check() == 1
    alert = Alert.objects.get()
    assert alert.kind == "ledger_drift" and "SMALL" in alert.message
    assert alert.details == [{"stock_level": StockLevel.objects.get(product=small, location=store).pk, "sku": "SMALL",
                              "location": "ST-01", "field": "on_hand", "recorded": 21, "ledger": 20}]


def test_a_decided_line_cannot_be_decided_again(store):
    from allocation.sync.reconcile import SnapshotLineInput, stock_snapshot_apply

    _, big, _ = _setup_snapshot(store)
    line = stock_snapshot_apply(location=store, lines=[SnapshotLineInput("BIG", 0)]).lines.get()
    snapshot_line_reject(line=line, actor=None)
    with pytest.raises(IllegalTransition):
        snapshot_line_reject(line=line, actor=None)
    with pytest.raises(IllegalTransition):
        snapshot_line_approve(line=line, actor=None)
    assert on_hand(big, store) == 50
