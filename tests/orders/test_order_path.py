"""The order path's cost: an order placed over the API takes a bounded number of queries whatever
its size (one planning context per request, bulk writes, work built in a few statements), and the
shortcuts change nothing a partner or a store sees."""

from __future__ import annotations

import pytest

from fulfillment.models import Work, WorkEvent, WorkKind
from inventory.services import location_capacity_set
from orders.models import Order

from .factories import issue_token, receive

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders"
# A three-line order split over two locations, as Django counts them: auth with the token's
# locations (1), the idempotency key's claim (one insert … on conflict do nothing) and answer (2),
# validation (2), the order with its lines (1: one chained insert), the planning context, the
# channel's ATP, the locations' candidates (with the stock rows and floors reserving needs) and
# accuracy (4), capacity, allocations, the reservations (one message: 3), the reservation ids with the decision
# and the timeline (1: since the seventh pass they ride on the next statement), the work from the
# allocations in hand: their locations, SLAs, and the works with their lines and events (3). The answer is built from what intake wrote.
# `bench api` counted 60 per order at first, 41 after one planning context per request and
# bulk-written timelines and work, 29 after the second pass, 27 after the third. Since the fifth
# pass the routing candidates and the reservations are named prepared statements run through
# Django's cursor, so they are counted here too (they were driver round trips before); the
# savepoints travel in front of the next statement (omni.db.postgresql: the three savepoints and
# two releases cost no round trip of their own); the routing profile, the locations, their SLAs
# and "not found" counts come from the per-process configuration cache once warm
# (omni.config_cache; this test warms it only in part); the inserts are chained
# (omni.bulk.bulk_insert_chain); the stock rows to reserve, with their location safety stock,
# come with routing's candidates (no look-up of their own), and the reservation ids are written
# with the next statement (omni.db.execute_deferred), as is the idempotency key's answer (with
# the commit; inside this test's transaction, with the next test statement), and the three
# reservations go in one message: 15 round trips as counted here, 31 before the fifth pass. Since
# the sixth pass the new works, their lines and events ride on the idempotency key's answer (the
# commit; here the next test statement), the products' look-up rides on the key's claim
# (omni.prepared.read_ahead_prepared), routing's candidates ride on the channel's ATP statement
# (candidates_read_ahead), the planning context rides on the order's insert
# (planning_context_read_ahead), and the inserts are prepared statements once repeated: 11. Since
# the seventh pass the routing decision and the timeline ride on the commit too (nothing reads
# their keys before it): 10.
MAX_QUERIES_PER_ORDER = 10


def _post(client, external_id: str, lines: list[tuple[str, int]]):
    return client.post(URL, {"external_id": external_id, "latitude": 41.0, "longitude": 29.0,
                             "lines": [{"sku": s, "quantity": q, "unit_price": "5.00"} for s, q in lines]},
                       format="json", HTTP_IDEMPOTENCY_KEY=external_id)


@pytest.fixture
def web_client(world, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web)}")
    return api_client


def test_a_split_order_takes_a_bounded_number_of_queries_and_builds_one_work_per_location(world, web_client,
                                                                                        django_assert_max_num_queries):
    # SHIRT only in Istanbul, MUG and CAP only at the Ankara warehouse: two shipments.
    location_capacity_set(location=world.ist, daily_capacity=10)
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ank, 5)
    receive(world.cap, world.ank, 5)
    assert _post(web_client, "Q-0", [("SHIRT", 1)]).status_code == 201  # warms the connection's prepared statements
    with django_assert_max_num_queries(MAX_QUERIES_PER_ORDER):
        resp = _post(web_client, "Q-1", [("SHIRT", 2), ("MUG", 1), ("CAP", 3)])
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert [e["kind"] for e in data["events"]] == ["created", "routed"]
    assert [[(a["location"], a["quantity"]) for a in ln["fulfilled_from"]] for ln in data["lines"]] == [
        [("ST-IST", 2)], [("WH-ANK", 1)], [("WH-ANK", 3)]]
    order = Order.objects.get(external_id="Q-1")
    works = {w.location.code: w for w in Work.objects.filter(order=order)}
    assert {code: w.kind for code, w in works.items()} == {"ST-IST": WorkKind.SHIP_FROM_STORE, "WH-ANK": WorkKind.WAREHOUSE_SHIP}
    assert sorted((ln.product.sku, ln.quantity) for ln in works["WH-ANK"].lines.all()) == [("CAP", 3), ("MUG", 1)]
    # Each work's timeline starts with its creation, then one event per line added, in allocation order.
    assert list(WorkEvent.objects.filter(work=works["WH-ANK"]).values_list("kind", "data__sku")) == [
        ("created", None), ("line_added", "MUG"), ("line_added", "CAP")]
    assert works["ST-IST"].deadline > works["ST-IST"].created_at


def test_the_capacity_read_with_the_planning_context_still_stops_a_full_store(world, web_client):
    # Istanbul is nearest but takes one order a day: the second order goes to Izmir.
    location_capacity_set(location=world.ist, daily_capacity=1)
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    first, second = _post(web_client, "C-1", [("SHIRT", 1)]), _post(web_client, "C-2", [("SHIRT", 1)])
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["lines"][0]["fulfilled_from"][0]["location"] == "ST-IST"
    assert second.json()["lines"][0]["fulfilled_from"][0]["location"] == "ST-IZM"


def test_the_answer_built_from_what_intake_wrote_is_the_order_as_read_back(world, web_client):
    # The POST answer no longer re-reads the order: it must say exactly what a later GET says.
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ank, 5)
    receive(world.cap, world.ank, 5)
    resp = _post(web_client, "R-1", [("SHIRT", 2), ("MUG", 1), ("CAP", 3), ("SHIRT", 1)])
    assert resp.status_code == 201, resp.json()
    assert resp.json() == web_client.get(f"{URL}/{resp.json()['id']}").json()
    assert [len(ln["fulfilled_from"]) for ln in resp.json()["lines"]] == [1, 1, 1, 1]


def test_the_hand_built_answer_is_byte_for_byte_the_serializers(world, web_client):
    # ``order_out_as_written`` builds the POST answer without DRF's field walk: its bytes must be
    # those OrderOutSerializer gave for the same order (over ``order_as_written``, as the POST
    # answered before), and its content what the serializer gives over the order read back (the
    # GET; jsonb keeps an event's keys in its own order), whatever the order holds: a line split
    # over two locations, decimals, accents, customer fields, a hold, a backordered line with
    # its reason, a pickup store the units are shipped to (no coordinates).
    from decimal import Decimal

    from rest_framework.renderers import JSONRenderer

    from omni.access.roles import Principal, Role
    from orders.api.serializers import OrderOutSerializer, order_out_as_written
    from orders.selectors import order_get
    from orders.services import LineInput, OrderInput, order_as_written, order_create

    from .factories import order_input

    render = JSONRenderer().render
    receive(world.shirt, world.ist, 2)
    receive(world.shirt, world.ank, 2)
    receive(world.mug, world.ank, 9)
    hold = web_client.post("/api/v1/holds", {"lines": [{"sku": "MUG", "quantity": 2}], "ttl_seconds": 300}, format="json")
    assert hold.status_code == 201, hold.json()
    split = order_create(channel=world.web, actor="partner:web", data=OrderInput(
        external_id="B-1", latitude=41.0, longitude=29.0, customer_ref="Çağrı ü", customer_email="a@b.co",
        customer_phone="+905551112233", customer_language="TR", ship_name="Ayşe", address="Cad. 1", city="İstanbul",
        postal_code="34000", country="tr", customer_tier="gold", delivery_mode="express",
        lines=[LineInput(sku="SHIRT", quantity=3, unit_price=Decimal("19.9")), LineInput(sku="MUG", quantity=1, unit_price=Decimal(5))]))
    held = order_create(channel=world.web, data=OrderInput(
        external_id="B-2", hold_id=hold.json()["id"], latitude=39.9, longitude=32.8, lines=[LineInput(sku="MUG", quantity=2, unit_price=Decimal("0.01"))]))
    world.market.scarcity_threshold = 5
    world.market.shortage_policy = "backorder"
    world.market.save()
    receive(world.cap, world.ist, 1)
    backordered = order_create(channel=world.market, data=order_input("B-3", ("CAP", 2), ("MUG", 1), delivery_mode="express",
                                                                     customer_tier="gold"))
    shipped = order_create(channel=world.web, data=order_input("B-4", ("SHIRT", 1), delivery_mode="bopis",
                                                              pickup_location=world.izm.code, ship_to_store=True))
    merchandiser = Principal(role=Role.MERCHANDISER)
    for order in (split, held, backordered, shipped):
        built = order_out_as_written(order)
        assert render(built) == render(OrderOutSerializer(order_as_written(order)).data)
        assert built == OrderOutSerializer(order_get(principal=merchandiser, order_id=order.pk)).data
    assert [len(ln["fulfilled_from"]) for ln in order_out_as_written(split)["lines"]] == [2, 1]
    assert order_out_as_written(held)["hold_id"] == hold.json()["id"]
    assert order_out_as_written(backordered)["lines"][0]["status"] == "backordered"
    assert order_out_as_written(shipped)["lines"][0]["fulfilled_from"][0]["ship_to_store"] == "ST-IZM"
    assert order_out_as_written(shipped)["latitude"] is None and order_out_as_written(shipped)["pickup_location"] == "ST-IZM"


def test_answers_built_with_fields_made_once_per_class_keep_each_order_its_own(world, web_client):
    # The answer serializers build their fields once per class: answering one order must leave
    # nothing behind for the next (lines, allocations, events, returns are each order's own).
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ank, 5)
    first = _post(web_client, "F-1", [("SHIRT", 2), ("MUG", 1)]).json()
    second = _post(web_client, "F-2", [("MUG", 3)]).json()
    again = web_client.get(f"{URL}/{first['id']}").json()
    assert again == first
    assert [(ln["sku"], ln["quantity"], [a["location"] for a in ln["fulfilled_from"]]) for ln in first["lines"]] == [
        ("SHIRT", 2, ["ST-IST"]), ("MUG", 1, ["WH-ANK"])]
    assert [(ln["sku"], ln["quantity"], [a["location"] for a in ln["fulfilled_from"]]) for ln in second["lines"]] == [
        ("MUG", 3, ["WH-ANK"])]
    assert second["external_id"] == "F-2" and second["events"][0]["data"]["lines"] == [{"line": 1, "sku": "MUG", "quantity": 3}]


def test_bodies_parsed_with_fields_made_once_per_class_get_each_their_own_errors(world, web_client):
    # The input serializers build their fields once per class too: a refused body must leave
    # nothing behind for the next one, refused or not.
    receive(world.shirt, world.ist, 5)

    def post(key: str, line: dict):
        return web_client.post(URL, {"external_id": key, "latitude": 41.0, "longitude": 29.0, "lines": [line]},
                               format="json", HTTP_IDEMPOTENCY_KEY=key)

    zero = post("E-1", {"sku": "SHIRT", "quantity": 0})
    good = post("E-2", {"sku": "SHIRT", "quantity": 1})
    no_sku = post("E-3", {"quantity": 1})
    assert (zero.status_code, good.status_code, no_sku.status_code) == (400, 201, 400)
    assert zero.json()["error"]["code"] == "invalid_quantity"
    assert no_sku.json()["error"]["details"] == {"lines": {"0": {"sku": ["This field is required."]}}}
    assert good.json()["lines"][0]["quantity"] == 1


def _prepared(pattern: str) -> list[tuple[str, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements WHERE statement ILIKE %s",
                       [pattern])
        return cursor.fetchall()


@pytest.mark.postgres
def test_the_order_paths_fixed_statements_are_planned_once_per_connection_not_per_order(world, web_client):
    # The reservation and routing's candidates ran on psycopg cursors with ``prepare=True``: with
    # Django's default (prepare_threshold None) that flag did nothing and PostgreSQL planned them on
    # every order. They, and the product look-up, are named prepared statements (omni.prepared).
    receive(world.shirt, world.ist, 50)
    receive(world.mug, world.ank, 50)
    for n in range(8):
        assert _post(web_client, f"P-{n}", [("SHIRT", 1), ("MUG", 1)]).status_code == 201
    for pattern in ("%UPDATE inventory_stocklevel SET reserved = reserved +%", "%array_agg(s.product_id)%",
                    "%FROM inventory_product WHERE sku = ANY%",
                    # the idempotency key's claim and its answer (omni.idempotency)
                    '%INSERT INTO "orders_idempotencyrecord"%ON CONFLICT%', '%UPDATE "orders_idempotencyrecord" SET%'):
        found = _prepared(pattern)
        assert found, f"not a prepared statement: {pattern}"
        assert max(plans for _stmt, plans in found) >= 1



def test_the_keys_row_stores_the_answer_as_the_client_read_it(world, web_client):
    # omni.idempotency stores the answer's JSON text as it encoded it (cast to jsonb), not encoded
    # again by the field: the row holds the same value, and a resend is answered with it.
    from orders.models import IdempotencyRecord

    receive(world.shirt, world.ist, 5)
    body = {"external_id": "K-1", "latitude": 41.0, "longitude": 29.0, "customer_ref": "Çağrı \u00fc \"q\"",
            "lines": [{"sku": "SHIRT", "quantity": 2, "unit_price": "19.9"}]}
    first = web_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="K-1")
    assert first.status_code == 201, first.json()
    record = IdempotencyRecord.objects.get(key="K-1")
    assert (record.response_status, record.response_body) == (201, first.json())
    again = web_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="K-1")
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert again.json()["customer_ref"] == "Çağrı ü \"q\"" and again.json()["lines"][0]["unit_price"] == "19.90"


def test_the_first_answer_is_rendered_once_and_reads_as_drf_renders_it(world, web_client):
    # omni.idempotency renders the first answer once, for the key's row, and the response sends
    # those bytes: they must be what DRF's JSON renderer writes for the answer, with DRF's headers;
    # a client that asks for another rendering (indented JSON, the browsable API) gets that one.
    from rest_framework.renderers import JSONRenderer

    receive(world.shirt, world.ist, 10)
    body = {"external_id": "R-1", "latitude": 41.0, "longitude": 29.0, "customer_ref": "Çağrı \u2028 \"q\" \\",
            "lines": [{"sku": "SHIRT", "quantity": 2, "unit_price": "19.9"}]}
    first = web_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="R-1")
    assert first.status_code == 201, first.json()
    assert first.content == JSONRenderer().render(first.json())
    assert first["Content-Type"] == "application/json" and "Idempotent-Replayed" not in first
    assert first.json()["customer_ref"] == "Çağrı \u2028 \"q\" \\"
    indented = web_client.post(URL, {**body, "external_id": "R-2"}, format="json", HTTP_IDEMPOTENCY_KEY="R-2",
                               HTTP_ACCEPT="application/json; indent=2")
    assert indented.status_code == 201, indented.content
    assert indented.content == JSONRenderer().render(indented.json(), "application/json; indent=2", {})
    assert indented.content.startswith(b'{\n  "id": ')
    page = web_client.post(URL, {**body, "external_id": "R-3"}, format="json", HTTP_IDEMPOTENCY_KEY="R-3", HTTP_ACCEPT="text/html")
    assert page.status_code == 201 and page["Content-Type"].startswith("text/html") and b"R-3" in page.content
    # a refusal is a first answer too
    refused = web_client.post(URL, {**body, "external_id": "R-4", "lines": [{"sku": "SHIRT", "quantity": 99}]}, format="json",
                              HTTP_IDEMPOTENCY_KEY="R-4")
    assert refused.status_code == 409 and refused.content == JSONRenderer().render(refused.json())
    again = web_client.post(URL, {**body, "external_id": "R-4", "lines": [{"sku": "SHIRT", "quantity": 99}]}, format="json",
                            HTTP_IDEMPOTENCY_KEY="R-4")
    assert again["Idempotent-Replayed"] == "true" and again.json() == refused.json()


def test_a_rendered_answer_is_sent_as_rendered_only_where_drf_would_render_the_same():
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    from omni.api.idempotency import answer_response
    from omni.idempotency import IdempotentAnswer

    class View(APIView):
        permission_classes: list = []
        authentication_classes: list = []

        def get(self, request: Request):
            answer = answer_response(IdempotentAnswer(201, {"a": 1}, False, b"RENDERED"))
            if request.query_params.get("change"):
                answer.data = {"a": 2}
            return answer

    factory = APIRequestFactory()

    def get(accept: str, query: str = ""):
        response = View.as_view()(factory.get("/x" + query, HTTP_ACCEPT=accept))
        return response.render()

    assert get("application/json").content == b"RENDERED"
    assert get("application/json")["Content-Type"] == "application/json"
    assert get("*/*").content == b"RENDERED"
    assert get("application/json; indent=4").content == b'{\n    "a": 1\n}'
    assert get("application/json", "?change=1").content == b'{"a":2}'
    assert get("text/html")["Content-Type"].startswith("text/html")


def test_a_body_validated_without_drfs_walk_is_what_drf_validates_and_refusals_stay_drfs():
    # ``validated_without_walk`` gives DRF's validated data for every body DRF accepts, and gives
    # way to DRF (None) for every body DRF refuses, so that the refusal keeps DRF's words.
    from decimal import Decimal

    from orders.api.serializers import OrderCreateSerializer, validated_without_walk

    line = {"sku": "SHIRT", "quantity": 2}
    accepted = [
        {"external_id": "A-1", "latitude": 41.3, "longitude": 29.7, "lines": [line, {"sku": "MUG", "quantity": 1}]},
        {"external_id": "  A-2 ", "channel": "web", "customer_ref": "Çağrı", "customer_tier": "gold", "delivery_mode": "bopis",
         "pickup_location": "ST-IST", "ship_to_store": True, "ship_name": "Ayşe", "customer_email": "a@b.co",
         "customer_phone": "+90555", "customer_language": "tr", "address": "Cad. 1", "city": "İstanbul", "postal_code": "34000",
         "country": "TR", "latitude": "41", "longitude": 29, "hold_id": "", "unknown": {"ignored": True},
         "lines": [{"sku": " SHIRT ", "quantity": 1, "unit_price": "19.9"}, {"sku": "MUG", "quantity": 3, "unit_price": 5}]},
        {"external_id": "A-3", "latitude": None, "longitude": None, "country": "", "lines": [line] * 200},
    ]
    refused = [
        [], "x", {"lines": [line]}, {"external_id": "", "lines": [line]}, {"external_id": "R", "lines": []},
        {"external_id": "R", "lines": line}, {"external_id": "R", "lines": ["SHIRT"]}, {"external_id": "R", "lines": [line] * 201},
        {"external_id": "R", "lines": [{"sku": "S", "quantity": 0}]}, {"external_id": "R", "lines": [{"sku": "S", "quantity": "2"}]},
        {"external_id": "R", "lines": [{"sku": "S" * 65, "quantity": 1}]}, {"external_id": "R", "lines": [{"quantity": 1}]},
        {"external_id": "R", "lines": [{"sku": "S", "quantity": 1, "unit_price": "1.234"}]},
        {"external_id": "R\x00", "lines": [line]}, {"external_id": "R\ud800", "lines": [line]},
        {"external_id": "R", "customer_email": "not-an-email", "lines": [line]}, {"external_id": "R", "latitude": "north", "lines": [line]},
        {"external_id": "R", "channel": "", "lines": [line]}, {"external_id": "R", "ship_to_store": "maybe", "lines": [line]},
        {"external_id": "R", "country": "TUR", "lines": [line]}, {"external_id": ["R"], "lines": [line]},
    ]
    for body in accepted:
        drf = OrderCreateSerializer(data=body)
        assert drf.is_valid(), drf.errors
        assert validated_without_walk(OrderCreateSerializer, body) == drf.validated_data
    assert validated_without_walk(OrderCreateSerializer, accepted[1])["lines"][0] == {  # type: ignore[index]
        "sku": "SHIRT", "quantity": 1, "unit_price": Decimal("19.90")}
    for body in refused:
        assert not OrderCreateSerializer(data=body).is_valid(), body
        assert validated_without_walk(OrderCreateSerializer, body) is None, body

    class Hooked(OrderCreateSerializer):  # validation of its own: DRF's walk runs it
        def validate_external_id(self, value: str) -> str:
            return value.upper()

    assert validated_without_walk(Hooked, accepted[0]) is None
