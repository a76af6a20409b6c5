"""Inbound stock snapshots (API, approval, admin) and the nightly ledger alert."""

from __future__ import annotations

import pytest

from inventory import services as stock
from inventory.alerts.services import ledger_alert_check
from inventory.models import Alert, CycleCount, SnapshotLineStatus, StockLevel, StockMovement, StockSnapshotLine
from inventory.snapshots.services import SnapshotLineInput, snapshot_line_approve, snapshot_line_reject, stock_snapshot_apply
from omni.access.models import Scope
from omni.errors import IllegalTransition

from ..access.factories import issue_token
from ..allocation.factories import ChannelFactory
from .factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db

SNAPSHOTS = "/api/v1/stock-snapshots"


@pytest.fixture
def store():
    return LocationFactory(code="ST-01")


@pytest.fixture
def admin_client(client):
    client.force_login(MerchandiserFactory())
    return client


def auth(client, key):
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _setup_snapshot(store):
    small, big, same = ProductFactory(sku="SMALL"), ProductFactory(sku="BIG"), ProductFactory(sku="SAME")
    stock.stock_receive(product=small, location=store, quantity=20)
    stock.stock_receive(product=big, location=store, quantity=50)
    stock.stock_receive(product=same, location=store, quantity=7)
    return small, big, same


def on_hand(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).on_hand


def test_snapshot_applies_small_variances_and_holds_large_ones_for_approval(api_client, store):
    pos = ChannelFactory(code="pos")
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
    _, big, _ = _setup_snapshot(store)
    snapshot = stock_snapshot_apply(location=store, lines=[SnapshotLineInput("BIG", 0)])
    line = snapshot.lines.get()
    assert line.status == SnapshotLineStatus.PENDING
    assert snapshot_line_reject(line=line, actor=None).status == SnapshotLineStatus.REJECTED
    assert on_hand(big, store) == 50


def test_bad_snapshot_changes_nothing(api_client, store):
    pos = ChannelFactory(code="pos")
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
    pos = ChannelFactory(code="pos")
    other = LocationFactory(code="ST-02")
    _setup_snapshot(store)
    client = auth(api_client, issue_token(pos, Scope.STOCK_WRITE, locations=[store]))

    response = client.post(SNAPSHOTS, {"location": other.code, "lines": [{"sku": "SMALL", "counted": 1}]}, format="json")

    assert response.status_code == 403
    assert StockSnapshotLine.objects.count() == 0


def test_a_decided_line_cannot_be_decided_again(store):
    _, big, _ = _setup_snapshot(store)
    line = stock_snapshot_apply(location=store, lines=[SnapshotLineInput("BIG", 0)]).lines.get()
    snapshot_line_reject(line=line, actor=None)
    with pytest.raises(IllegalTransition):
        snapshot_line_reject(line=line, actor=None)
    with pytest.raises(IllegalTransition):
        snapshot_line_approve(line=line, actor=None)
    assert on_hand(big, store) == 50


def test_nightly_ledger_check_raises_an_alert_on_drift(store):
    small, _, _ = _setup_snapshot(store)
    assert ledger_alert_check() == 0 and Alert.objects.count() == 0

    StockLevel.objects.filter(product=small, location=store).update(on_hand=21)  # drift behind the ledger's back

    assert ledger_alert_check() == 1
    alert = Alert.objects.get()
    assert alert.kind == "ledger_drift" and "SMALL" in alert.message
    assert alert.details == [{"stock_level": StockLevel.objects.get(product=small, location=store).pk, "sku": "SMALL",
                              "location": "ST-01", "field": "on_hand", "recorded": 21, "ledger": 20}]


def test_held_snapshot_line_is_approved_from_the_admin(admin_client):
    store = LocationFactory(code="ST-01")
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=40)
    stock_snapshot_apply(location=store, lines=[SnapshotLineInput("TEE", 10)])
    line = StockSnapshotLine.objects.get()

    listing = admin_client.get("/admin/inventory/stocksnapshotline/?status__exact=pending")
    admin_client.post("/admin/inventory/stocksnapshotline/", {"action": "approve", "_selected_action": [line.pk]})

    assert listing.status_code == 200 and b"TEE" in listing.content
    line.refresh_from_db()
    assert line.status == SnapshotLineStatus.APPLIED and line.decided_by is not None
    assert StockLevel.objects.get(product=tee, location=store).on_hand == 10


def test_alerts_are_listed_and_acknowledged(admin_client):
    alert = Alert.objects.create(kind="ledger_drift", message="Ledger drift: 1 stock figure(s) disagree")
    listing = admin_client.get("/admin/inventory/alert/")
    admin_client.post("/admin/inventory/alert/", {"action": "acknowledge", "_selected_action": [alert.pk]})
    assert b"Ledger drift" in listing.content
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
