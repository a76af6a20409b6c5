"""Admin: the ATP explorer, safety-stock policy editing through the services, imports, and the outbox
rows that visibility / quota / policy changes write."""

from __future__ import annotations

import pytest
import tablib

from allocation.admin.resources import ChannelVisibilityResource, SafetyStockPolicyResource
from allocation.channels.services import channel_quota_set, channel_visibility_add, channel_visibility_remove, location_group_set_locations
from allocation.models import ChannelVisibility, LocationGroup, SyncMode
from allocation.safety_stock.models import SafetyStockPolicy
from inventory import services as inv
from inventory.models import LocationKind, OutboxEvent
from omni.errors import Conflict, ValidationFailed

from ..inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory
from .factories import ChannelFactory, channel_policy, location_policy, make_visible, pool_policy, put_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(MerchandiserFactory())
    return client


def test_atp_explorer_explains_every_layer(admin_client):
    sku = ProductFactory(sku="JEANS-32")
    dc = LocationFactory(code="DC-01", kind=LocationKind.DC)
    store = LocationFactory(code="ST-01")
    supplier = LocationFactory(code="SUP-01", kind=LocationKind.SUPPLIER)
    web = ChannelFactory(code="web", allows_dropship=True, accuracy_haircut_enabled=True, lag_buffer_enabled=True,
                         sync_mode=SyncMode.BATCH, sync_interval_seconds=3600)
    pos = ChannelFactory(code="pos")
    make_visible(web, dc, store)
    make_visible(pos, store)
    put_stock(sku, dc, on_hand=20, reserved=2)
    put_stock(sku, store, on_hand=5)
    put_stock(sku, supplier, on_hand=4)
    location_policy(sku, dc, 3)
    channel_policy(sku, web, 5)
    pool_policy(sku, 2)
    channel_quota_set(channel=pos, min_share_percent=10)

    res = admin_client.get("/admin/allocation/channel/atp-explorer/", {"sku": "JEANS-32"})
    assert res.status_code == 200
    body = res.content.decode()
    # web: DC 20 − 2 − 3 = 15, store 5 → 20; buffer 5 − 3 deducted → −2; pos keeps ceil(2.0) = 2 of the shared store; +4 virtual
    comp = {c.channel.code: c.components for c in res.context["explanation"].channels}
    assert (comp["web"].available, comp["web"].extra_buffer, comp["web"].quota, comp["web"].virtual, comp["web"].atp) == (20, 2, 2, 4, 20)
    for text in ("this channel&#x27;s safety stock", "2 units protected for other channels by their quotas.",
                 "4 units added from the drop-ship supplier", "held back for orders", "were less than",
                 "SKU × location policy", "pooling effect", "ATP = 20"):
        assert text in body, text

    res = admin_client.get("/admin/allocation/channel/atp-explorer/", {"sku": "NOPE"})
    assert "Unknown SKU" in res.content.decode()


def test_policy_admin_saves_through_the_service_and_refuses_bad_input(admin_client):
    sku, store = ProductFactory(sku="S1"), LocationFactory(code="ST-01")
    data = {"product": sku.pk, "scope": "location", "location": store.pk, "channel": "", "method": "static",
            "quantity": 4, "service_level": "95", "lead_time_days": "", "override_quantity": ""}
    res = admin_client.post("/admin/allocation/safetystockpolicy/add/", data)
    assert res.status_code == 302
    assert list(SafetyStockPolicy.objects.values_list("effective_quantity", flat=True)) == [4]
    assert OutboxEvent.objects.filter(product=sku, reason="safety_stock").count() == 1

    bad = {**data, "scope": "pool"}  # a pool policy with a location
    res = admin_client.post("/admin/allocation/safetystockpolicy/add/", bad)
    assert res.status_code == 200 and "Must be empty" in res.content.decode()
    assert SafetyStockPolicy.objects.count() == 1


def test_policy_import_validates_each_row_and_writes_through_the_service():
    ProductFactory(sku="S1")
    store = LocationFactory(code="ST-01")
    web = ChannelFactory(code="web")
    data = tablib.Dataset(headers=["sku", "scope", "location", "channel", "method", "quantity", "service_level",
                                   "lead_time_days", "override_quantity"])
    data.append(["S1", "location", "ST-01", "", "static", "3", "95", "", ""])
    data.append(["S1", "channel", "", "web", "static", "7", "95", "", ""])
    result = SafetyStockPolicyResource().import_data(data, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert sorted(SafetyStockPolicy.objects.values_list("scope", "effective_quantity")) == [("channel", 7), ("location", 3)]
    assert web.pk in SafetyStockPolicy.objects.values_list("channel_id", flat=True)

    bad = tablib.Dataset(headers=data.headers)
    bad.append(["S1", "pool", "ST-01", "", "static", "3", "95", "", ""])  # pool with a location
    bad.append(["S1", "pool", "", "", "static", "2", "150", "", ""])  # service level out of range
    result = SafetyStockPolicyResource().import_data(bad, dry_run=False)
    assert result.has_validation_errors()
    assert len(result.invalid_rows) == 2
    assert SafetyStockPolicy.objects.count() == 2  # nothing of the bad file was written
    _ = store


def test_visibility_import_and_service_write_the_outbox():
    sku, other = ProductFactory(sku="S1"), ProductFactory(sku="S2")
    store, dc = LocationFactory(code="ST-01"), LocationFactory(code="DC-01", kind=LocationKind.DC)
    web = ChannelFactory(code="web")
    put_stock(sku, store, on_hand=1)
    put_stock(other, dc, on_hand=1)
    OutboxEvent.objects.all().delete()

    data = tablib.Dataset(headers=["channel", "location", "group"])
    data.append(["web", "ST-01", ""])
    data.append(["web", "", ""])  # neither location nor group
    result = ChannelVisibilityResource().import_data(data, dry_run=False)
    assert result.has_validation_errors() and ChannelVisibility.objects.count() == 0

    result = ChannelVisibilityResource().import_data(tablib.Dataset(["web", "ST-01", ""], headers=data.headers), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert list(OutboxEvent.objects.values_list("product__sku", "reason")) == [("S1", "visibility")]

    with pytest.raises(Conflict):
        channel_visibility_add(channel=web, location=store)
    with pytest.raises(ValidationFailed):
        channel_visibility_add(channel=web)

    group = LocationGroup.objects.create(code="dcs", name="DCs")
    rule = channel_visibility_add(channel=web, group=group)
    OutboxEvent.objects.all().delete()
    location_group_set_locations(group=group, locations=[dc])  # DC joins a visible group → S2 republished
    assert list(OutboxEvent.objects.values_list("product__sku", flat=True)) == ["S2"]
    OutboxEvent.objects.all().delete()
    channel_visibility_remove(rule=rule)
    assert list(OutboxEvent.objects.values_list("product__sku", flat=True)) == ["S2"]


def test_default_quota_republishes_every_stocked_sku():
    a, b = ProductFactory(sku="A"), ProductFactory(sku="B")
    store = LocationFactory(code="ST-01")
    put_stock(a, store, on_hand=1)
    put_stock(b, store, on_hand=1)
    OutboxEvent.objects.all().delete()
    channel_quota_set(channel=ChannelFactory(code="pos"), min_share_percent="30")
    assert sorted(OutboxEvent.objects.values_list("product__sku", "reason")) == [("A", "quota"), ("B", "quota")]
    with pytest.raises(ValidationFailed):
        channel_quota_set(channel=ChannelFactory(code="web"), min_share_percent="130")


def test_channel_admin_inline_visibility_goes_through_the_service(admin_client):
    sku, store = ProductFactory(sku="S1"), LocationFactory(code="ST-01")
    put_stock(sku, store, on_hand=2)
    web = ChannelFactory(code="web")
    OutboxEvent.objects.all().delete()
    form = {
        "code": "web", "name": "Web", "kind": "webshop", "is_active": "on", "margin_rank": 1, "strategic_priority": 1,
        "scarcity_threshold": 0, "shortage_policy": "reject", "sync_mode": "near_realtime", "sync_window_seconds": 2,
        "sync_interval_seconds": 900, "accuracy_threshold_percent": "95", "accuracy_haircut_percent": 50,
        "visibility_rules-TOTAL_FORMS": 1, "visibility_rules-INITIAL_FORMS": 0,
        "visibility_rules-0-location": store.pk, "visibility_rules-0-group": "",
        "quotas-TOTAL_FORMS": 0, "quotas-INITIAL_FORMS": 0,
    }
    res = admin_client.post(f"/admin/allocation/channel/{web.pk}/change/", form)
    assert res.status_code == 302, res.content.decode()[:2000]
    assert list(ChannelVisibility.objects.values_list("channel__code", "location__code")) == [("web", "ST-01")]
    assert OutboxEvent.objects.filter(product=sku, reason="visibility").count() == 1
    _ = inv


def test_explorer_shows_haircut_per_location_and_channel(admin_client):
    sku, store = ProductFactory(sku="S9"), LocationFactory(code="ST-09")
    web = ChannelFactory(code="web", accuracy_haircut_enabled=True)
    make_visible(web, store)
    put_stock(sku, store, on_hand=4)
    inv.cycle_count_record(product=sku, location=store, counted=3)  # 0 of 1 counts accurate
    from allocation.accuracy.services import location_accuracy_refresh

    location_accuracy_refresh()
    res = admin_client.get("/admin/allocation/channel/atp-explorer/", {"sku": "S9"})
    body = res.content.decode()
    assert "web (counts 50%)" in body and "0.00% (0/1)" in body
    comp = res.context["explanation"].channels[0].components
    assert (comp.available, comp.haircut, comp.atp) == (3, 2, 1)  # floor(3 × 50 %) = 1 counts


def test_modifier_admin_goes_through_the_service(admin_client):
    from datetime import date, timedelta

    sku, store = ProductFactory(sku="S10"), LocationFactory(code="ST-10")
    policy = location_policy(sku, store, 10)
    today = date.today()
    data = {"name": "Campaign", "kind": "campaign", "percent": "20", "min_quantity": 0, "product": sku.pk, "season": "",
            "starts_on": (today - timedelta(days=1)).isoformat(), "ends_on": "", "is_active": "on"}
    res = admin_client.post("/admin/allocation/safetystockmodifier/add/", data)
    assert res.status_code == 302
    policy.refresh_from_db()
    assert policy.effective_quantity == 12
    bad = {**data, "kind": "end_of_season", "percent": "150"}
    res = admin_client.post("/admin/allocation/safetystockmodifier/add/", bad)
    assert res.status_code == 200 and "0–1000 (reductions 0–100)" in res.content.decode()


def test_override_through_the_policy_admin(admin_client):
    sku, store = ProductFactory(sku="S11"), LocationFactory(code="ST-11")
    policy = location_policy(sku, store, 10)
    data = {"product": sku.pk, "scope": "location", "location": store.pk, "channel": "", "method": "static",
            "quantity": 10, "service_level": "95", "lead_time_days": "", "override_quantity": 3}
    res = admin_client.post(f"/admin/allocation/safetystockpolicy/{policy.pk}/change/", data)
    assert res.status_code == 302
    policy.refresh_from_db()
    assert (policy.effective_quantity, policy.override_quantity) == (3, 3)
    assert SafetyStockPolicy.objects.count() == 1


def test_visibility_admin_refuses_location_and_group_together(admin_client):
    store = LocationFactory(code="ST-12")
    group = LocationGroup.objects.create(code="stores", name="Stores")
    web = ChannelFactory(code="web")
    res = admin_client.post("/admin/allocation/channelvisibility/add/", {"channel": web.pk, "location": store.pk, "group": group.pk})
    assert res.status_code == 200  # the form shows the error, nothing is written
    assert ChannelVisibility.objects.count() == 0
    res = admin_client.post("/admin/allocation/channelvisibility/add/", {"channel": web.pk, "location": store.pk, "group": ""})
    assert res.status_code == 302 and ChannelVisibility.objects.count() == 1
    res = admin_client.post("/admin/allocation/channelvisibility/add/", {"channel": web.pk, "location": store.pk, "group": ""})
    assert res.status_code == 200 and ChannelVisibility.objects.count() == 1  # duplicate refused by the form


def test_accuracy_admin_lists_and_refreshes(admin_client):
    from allocation.accuracy.services import location_accuracy_refresh
    from allocation.models import LocationAccuracyStat

    sku, store = ProductFactory(sku="S13"), LocationFactory(code="ST-13")
    put_stock(sku, store, on_hand=2)
    inv.cycle_count_record(product=sku, location=store, counted=2)
    location_accuracy_refresh()
    res = admin_client.get("/admin/allocation/locationaccuracystat/")
    assert res.status_code == 200 and "100.00" in res.content.decode()

    inv.cycle_count_record(product=sku, location=store, counted=1)  # a variance
    stat = LocationAccuracyStat.objects.get()
    res = admin_client.post("/admin/allocation/locationaccuracystat/", {"action": "refresh", "_selected_action": [stat.pk]})
    assert res.status_code == 302
    assert list(LocationAccuracyStat.objects.values_list("location__code", "counts", "accurate")) == [("ST-13", 2, 1)]
