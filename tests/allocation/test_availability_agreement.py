"""One rule, one answer: ATP, routing's candidates, BOPIS pickup, the ATP explorer, the API's
per-location breakdown and the pool read the same "available at a location" (on hand − reserved −
location safety stock, floored at 0) over the same locations (visible, active; suppliers only for
a drop-ship channel) on one hand-built world."""

from __future__ import annotations

import pytest

from allocation.availability.explain import atp_explain
from allocation.availability.pickup import pickup_options
from allocation.selectors import atp_components, channel_location_ids, location_availability, pool_availability
from inventory.models import Location, LocationKind
from orders.routing.engine import load_candidates

from ..inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory
from .factories import ChannelFactory, location_policy, make_visible, put_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    dc = LocationFactory(code="DC", kind=LocationKind.DC, can_pickup=False)
    store = LocationFactory(code="ST-A", latitude=41.0, longitude=29.0)
    closed = LocationFactory(code="ST-CLOSED", latitude=41.0, longitude=29.0)  # visible, but inactive
    elsewhere = LocationFactory(code="ST-OTHER", latitude=41.0, longitude=29.0)  # active, not visible to web
    supplier = LocationFactory(code="SUP", kind=LocationKind.SUPPLIER, can_pickup=False)
    gone = LocationFactory(code="SUP-OLD", kind=LocationKind.SUPPLIER, can_pickup=False)  # inactive supplier
    jacket, cap = ProductFactory(sku="JACKET"), ProductFactory(sku="CAP")
    put_stock(jacket, dc, on_hand=20, reserved=3)
    location_policy(jacket, dc, 2)                   # 20 − 3 − 2 = 15
    put_stock(jacket, store, on_hand=5, reserved=1)
    location_policy(jacket, store, 6)                # 5 − 1 − 6 < 0 → 0 (4 of the 6 deducted)
    put_stock(cap, store, on_hand=6, reserved=2)
    location_policy(cap, store, 1)                   # 6 − 2 − 1 = 3
    put_stock(jacket, closed, on_hand=9)
    put_stock(cap, closed, on_hand=9)
    put_stock(jacket, elsewhere, on_hand=7)          # 7, for the pool only
    put_stock(jacket, supplier, on_hand=4)
    location_policy(jacket, supplier, 1)             # 4 − 1 = 3, virtual for a drop-ship channel
    put_stock(jacket, gone, on_hand=8)
    Location.objects.filter(pk__in=[closed.pk, gone.pk]).update(is_active=False)
    web = ChannelFactory(code="web", allows_dropship=True)
    make_visible(web, dc, store, closed)
    return {"web": web, "jacket": jacket, "cap": cap, "dc": dc, "store": store, "supplier": supplier, "elsewhere": elsewhere}


def test_atp_routing_pickup_explorer_and_pool_agree_on_available(world, client):
    web, jacket, cap = world["web"], world["jacket"], world["cap"]
    dc, store, supplier = world["dc"], world["store"], world["supplier"]

    # where web sells from: visible and active, plus the active supplier (drop-ship); never the closed store
    assert channel_location_ids(channel=web) == {dc.pk, store.pk, supplier.pk}

    # per location, the one rule
    rows = {(r.product_id, r.location_id): r for r in location_availability(product_ids=[jacket.pk, cap.pk])}
    per_location = {(p, loc): r.available for (p, loc), r in rows.items()}
    assert per_location[(jacket.pk, dc.pk)] == 15
    assert (rows[(jacket.pk, store.pk)].available, rows[(jacket.pk, store.pk)].safety_stock_deducted) == (0, 4)
    assert per_location[(cap.pk, store.pk)] == 3
    assert per_location[(jacket.pk, supplier.pk)] == 3

    # ATP: the visible own locations, plus the supplier as virtual stock
    jacket_atp = atp_components(channel=web, product_ids=[jacket.pk, cap.pk])
    assert (jacket_atp[jacket.pk].available, jacket_atp[jacket.pk].location_safety_stock,
            jacket_atp[jacket.pk].virtual, jacket_atp[jacket.pk].atp) == (15, 6, 3, 18)
    assert (jacket_atp[cap.pk].available, jacket_atp[cap.pk].atp) == (3, 3)

    # routing's candidates: every location with something available, with exactly that figure
    candidates = load_candidates(product_ids=[jacket.pk, cap.pk], location_ids=channel_location_ids(channel=web),
                                 destination=None, require_can_ship=False)
    assert {c.code: c.available for c in candidates} == {
        "DC": {jacket.pk: 15}, "ST-A": {cap.pk: 3}, "SUP": {jacket.pk: 3},
    }
    visible_own = {dc.pk, store.pk}
    for product, comp in jacket_atp.items():
        routed = sum(c.available.get(product, 0) for c in candidates if c.location_id in visible_own)
        virtual = sum(c.available.get(product, 0) for c in candidates if c.location_id == supplier.pk)
        assert (routed, virtual) == (comp.available, comp.virtual)

    # pickup: the visible active store, with the same figure; the closed store is never offered
    cap_pickup = pickup_options(channel=web, product_ids=[cap.pk], lat=41.0, lon=29.0, radius_km=5)
    assert [(o.location.code, o.available) for o in cap_pickup] == [("ST-A", {cap.pk: 3})]
    assert pickup_options(channel=web, product_ids=[jacket.pk], lat=41.0, lon=29.0, radius_km=5) == []

    # the explorer: same per-location figures, and the channel's components are the ATP's
    explanation = atp_explain(product=jacket)
    layers = {layer.location.code: layer for layer in explanation.locations}
    assert "ST-CLOSED" not in layers and "SUP-OLD" not in layers
    assert {code: layer.stock.available for code, layer in layers.items() if layer.stock} == {
        "DC": 15, "ST-A": 0, "ST-OTHER": 7, "SUP": 3,
    }
    assert sorted(code for code, layer in layers.items() if layer.visible_to) == ["DC", "ST-A", "SUP"]
    explained = next(c for c in explanation.channels if c.channel.code == "web").components
    assert explained == jacket_atp[jacket.pk]

    # the API's breakdown: the same per-location figures for the channel's locations
    client.force_login(MerchandiserFactory())
    body = client.get("/api/v1/availability", {"sku": "JACKET", "channel": "web", "breakdown": "1"}).json()
    assert {r["location"]: (r["available"], r["virtual"]) for r in body["items"][0]["locations"]} == {
        "DC": (15, False), "ST-A": (0, False), "SUP": (3, True),
    }
    assert body["items"][0]["atp"] == 18

    # the pool: every active own location (not the closed store), suppliers apart
    pool = pool_availability(product_ids=[jacket.pk])[jacket.pk]
    assert (pool.available, pool.location_safety_stock, pool.virtual) == (15 + 0 + 7, 2 + 4, 3)
