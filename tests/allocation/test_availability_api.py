"""The availability API: what a partner and a merchandiser see, pickup search, and clear errors."""

from __future__ import annotations

import pytest
from django.db import connection

from allocation.models import ChannelKind
from inventory.models import LocationKind

from ..access.factories import issue_token
from ..inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory, UserFactory
from .factories import ChannelFactory, location_policy, make_visible, put_stock

pytestmark = pytest.mark.django_db

URL = "/api/v1/availability"
PICKUP = "/api/v1/availability/pickup"


@pytest.fixture
def world():
    jeans, shirt = ProductFactory(sku="JEANS-32"), ProductFactory(sku="SHIRT-M")
    dc = LocationFactory(code="DC-01", kind=LocationKind.DC, can_pickup=False, latitude=41.10, longitude=28.80)
    kadikoy = LocationFactory(code="ST-KDK", kind=LocationKind.STORE, latitude=40.9903, longitude=29.0290)
    besiktas = LocationFactory(code="ST-BJK", kind=LocationKind.STORE, latitude=41.0430, longitude=29.0070)
    ankara = LocationFactory(code="ST-ANK", kind=LocationKind.STORE, latitude=39.9208, longitude=32.8541)
    web = ChannelFactory(code="web", kind=ChannelKind.WEBSHOP)
    market = ChannelFactory(code="market", kind=ChannelKind.MARKETPLACE)
    make_visible(web, dc, kadikoy, besiktas, ankara)
    make_visible(market, dc)
    put_stock(jeans, dc, on_hand=10, reserved=2)
    put_stock(jeans, kadikoy, on_hand=3)
    put_stock(jeans, besiktas, on_hand=5)
    put_stock(jeans, ankara, on_hand=9)
    put_stock(shirt, besiktas, on_hand=1)
    location_policy(jeans, kadikoy, 1)
    return {"jeans": jeans, "shirt": shirt, "web": web, "market": market, "dc": dc, "kadikoy": kadikoy, "besiktas": besiktas}


def auth(client, channel, *scopes):
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(channel, *scopes)}")
    return client


def test_partner_reads_its_own_channels_atp(api_client, world):
    auth(api_client, world["web"], "availability:read")
    res = api_client.get(URL, {"sku": ["JEANS-32", "SHIRT-M"]})
    assert res.status_code == 200
    # jeans: DC 8 + Kadıköy (3 − 1 SS) 2 + Beşiktaş 5 + Ankara 9 = 24; shirt: 1
    assert res.json()["channel"] == "web"
    assert [(i["sku"], i["atp"]) for i in res.json()["items"]] == [("JEANS-32", 24), ("SHIRT-M", 1)]


def test_breakdown_lists_each_location_and_component(api_client, world):
    auth(api_client, world["market"], "availability:read")
    res = api_client.get(URL, {"sku": "JEANS-32", "breakdown": "1", "channel": "market"})
    item = res.json()["items"][0]
    assert item["atp"] == 8
    assert item["locations"] == [
        {"location": "DC-01", "on_hand": 10, "reserved": 2, "safety_stock": 0, "available": 8, "counted": 8, "virtual": False}
    ]
    assert item["components"]["available"] == 8 and item["components"]["quota"] == 0


def test_merchandiser_names_the_channel(api_client, world):
    api_client.force_authenticate(MerchandiserFactory())
    assert api_client.get(URL, {"sku": "JEANS-32", "channel": "market"}).json()["items"][0]["atp"] == 8
    res = api_client.get(URL, {"sku": "JEANS-32"})
    assert (res.status_code, res.json()["error"]["code"]) == (400, "channel_required")


@pytest.mark.parametrize(
    "params, status, code",
    [
        ({"sku": "NOPE"}, 404, "unknown_sku"),
        ({"sku": ["JEANS-32", "NOPE"]}, 404, "unknown_sku"),
        ({}, 400, "sku_required"),
        ({"sku": "JEANS-32", "channel": "market"}, 403, "channel_forbidden"),
        ({"sku": "JEANS-32", "breakdown": "maybe"}, 400, "invalid_parameter"),
    ],
)
def test_bad_requests_get_clear_errors(api_client, world, params, status, code):
    auth(api_client, world["web"], "availability:read")
    res = api_client.get(URL, params)
    assert res.status_code == status
    assert res.json()["error"]["code"] == code
    assert res.json()["error"]["message"]


def test_token_without_scope_and_anonymous_are_refused(api_client, world):
    assert api_client.get(URL, {"sku": "JEANS-32"}).status_code in (401, 403)
    auth(api_client, world["web"], "stock:read")
    res = api_client.get(URL, {"sku": "JEANS-32"})
    assert res.status_code == 403
    api_client.credentials()
    api_client.force_authenticate(UserFactory())  # no role at all
    assert api_client.get(URL, {"sku": "JEANS-32", "channel": "web"}).status_code == 403


def test_merchandiser_unknown_channel(api_client, world):
    api_client.force_authenticate(MerchandiserFactory())
    res = api_client.get(URL, {"sku": "JEANS-32", "channel": "nope"})
    assert (res.status_code, res.json()["error"]["code"]) == (404, "unknown_channel")


def test_pickup_lists_nearby_stores_that_can_serve_nearest_first(api_client, world):
    auth(api_client, world["web"], "availability:read")
    # a customer in Üsküdar (41.0260, 29.0150): Beşiktaş ≈ 2.0 km, Kadıköy ≈ 4.2 km; Ankara is 350 km away
    res = api_client.get(PICKUP, {"sku": "JEANS-32", "lat": "41.0260", "lon": "29.0150", "radius_km": "10"})
    assert res.status_code == 200
    stores = res.json()["stores"]
    assert [(s["location"], s["items"][0]["available"]) for s in stores] == [("ST-BJK", 5), ("ST-KDK", 2)]
    assert stores[0]["distance_km"] == pytest.approx(2.0, abs=0.1)
    assert stores[1]["distance_km"] == pytest.approx(4.2, abs=0.1)
    # needing 3 units: Kadıköy has only 2 it may promise
    res = api_client.get(PICKUP, {"sku": "JEANS-32", "lat": "41.0260", "lon": "29.0150", "radius_km": "10", "quantity": "3"})
    assert [s["location"] for s in res.json()["stores"]] == ["ST-BJK"]
    # both SKUs: only Beşiktaş has the shirt
    res = api_client.get(PICKUP, {"sku": ["JEANS-32", "SHIRT-M"], "lat": "41.0260", "lon": "29.0150"})
    assert [s["location"] for s in res.json()["stores"]] == ["ST-BJK"]


def test_pickup_only_stores_the_channel_sees(api_client, world):
    auth(api_client, world["market"], "availability:read")
    res = api_client.get(PICKUP, {"sku": "JEANS-32", "lat": "41.0260", "lon": "29.0150", "radius_km": "50"})
    assert res.json()["stores"] == []  # the marketplace sees only the DC, which is no pickup point


@pytest.mark.parametrize(
    "params, code",
    [
        ({"lat": "91", "lon": "29"}, "invalid_coordinates"),
        ({"lat": "41", "lon": "-180.5"}, "invalid_coordinates"),
        ({"lat": "abc", "lon": "29"}, "invalid_coordinates"),
        ({"lat": "nan", "lon": "29"}, "invalid_coordinates"),
        ({"lat": "inf", "lon": "29"}, "invalid_coordinates"),
        ({"lon": "29"}, "missing_parameter"),
        ({"lat": "41", "lon": "29", "radius_km": "-1"}, "invalid_radius"),
        ({"lat": "41", "lon": "29", "radius_km": "100000"}, "invalid_radius"),
        ({"lat": "41", "lon": "29", "quantity": "1.5"}, "invalid_quantity"),
    ],
)
def test_pickup_bad_coordinates_are_400(api_client, world, params, code):
    auth(api_client, world["web"], "availability:read")
    res = api_client.get(PICKUP, {"sku": "JEANS-32", **params})
    assert res.status_code == 400
    assert res.json()["error"]["code"] == code


def test_openapi_schema_lists_the_endpoints(api_client, world):
    api_client.force_authenticate(MerchandiserFactory())
    res = api_client.get("/api/v1/schema/", {"format": "json"})
    assert res.status_code == 200
    paths = res.json()["paths"]
    assert "/api/v1/availability" in paths and "/api/v1/availability/pickup" in paths


# An availability read on PostgreSQL, as Django counts it: the token with its user, channel and
# locations (1), the SKUs (1), the channel's context with its capacity counters (1), the ATP statement
# (1); the token's `last_used_at` is written at most once a minute. `bench api` reads one SKU per
# request this way. (On the embedded SQLite default the token's locations are a query of their own.)
QUERIES_PER_AVAILABILITY_READ = 4


def test_a_read_takes_four_queries_and_every_stock_change_shows_at_the_next_read(api_client, world,
                                                                               django_assert_num_queries):
    from inventory import services

    auth(api_client, world["web"], "availability:read")
    assert api_client.get(URL, {"sku": "JEANS-32"}).json()["items"][0]["atp"] == 24  # prepares this connection's statements
    with django_assert_num_queries(QUERIES_PER_AVAILABILITY_READ + (connection.vendor != "postgresql")):
        res = api_client.get(URL, {"sku": "JEANS-32,SHIRT-M"})
    assert [(i["sku"], i["atp"]) for i in res.json()["items"]] == [("JEANS-32", 24), ("SHIRT-M", 1)]

    services.stock_receive(product=world["jeans"], location=world["besiktas"], quantity=4)
    assert api_client.get(URL, {"sku": "JEANS-32"}).json()["items"][0]["atp"] == 28
    services.reservation_create(product=world["jeans"], location=world["dc"], quantity=3, reference="test:hold")
    assert api_client.get(URL, {"sku": "JEANS-32"}).json()["items"][0]["atp"] == 25
    services.stock_sell(product=world["shirt"], location=world["besiktas"], quantity=1)
    assert api_client.get(URL, {"sku": "SHIRT-M"}).json()["items"][0]["atp"] == 0
