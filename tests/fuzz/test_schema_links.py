"""The OpenAPI links the schema publishes (omni/api/schema.py ``LINKS``) are all there and correct:
each names an operation that exists, fills only parameters the target declares (and every path
parameter it needs), and reads values from where the source's answer (or request) has them, of the
type the target expects. The stateful fuzz (test_schema_fuzz.py) follows them against the running
API; this test checks each one, including those that fuzzing reaches rarely."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inventory import services as inventory_services
from omni.api.schema import LINKS
from tests.allocation.factories import ChannelFactory, make_visible
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].split("/")[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:  # drf-spectacular's nullable $ref
        node = {**_resolve(schema, node["allOf"][0]), **{k: v for k, v in node.items() if k != "allOf"}}
    return node


def _pointer(schema: dict, node: dict, pointer: str) -> dict:
    """The schema of what ``pointer`` (JSON pointer) selects in a value described by ``node``."""
    for token in [t for t in pointer.split("/") if t]:
        node = _resolve(schema, node)
        if token.isdigit():
            assert node.get("type") == "array", f"{pointer}: {token} indexes a {node.get('type')}"
            node = node["items"]
        else:
            assert token in node.get("properties", {}), f"{pointer}: no {token!r} in {sorted(node.get('properties', {}))}"
            node = node["properties"][token]
    return _resolve(schema, node)


def _operations(schema: dict) -> dict[str, dict]:
    return {op["operationId"]: op for item in schema["paths"].values() for m, op in item.items() if m in METHODS}


def _source_value(schema: dict, source: dict, status: str, expression: str) -> dict:
    if expression.startswith("$response.body#"):
        body = source["responses"][status]["content"]["application/json"]["schema"]
        return _pointer(schema, body, expression.removeprefix("$response.body#"))
    if expression.startswith("$request.path."):
        name = expression.removeprefix("$request.path.")
        declared = {p["name"]: p["schema"] for p in source.get("parameters", []) if p["in"] == "path"}
        assert name in declared, f"{expression}: the source has no path parameter {name!r}"
        return declared[name]
    raise AssertionError(f"unexpected runtime expression {expression}")


def _fits(value: dict, wanted: dict) -> bool:
    """A value of schema ``value`` may be sent where ``wanted`` is declared (a list parameter takes one item)."""
    if wanted.get("type") == "array":
        wanted = wanted["items"]
    return "type" not in value or "type" not in wanted or value["type"] == wanted["type"]


def test_every_link_row_is_published(schema):
    operations = _operations(schema)
    for (source, status), links in LINKS.items():
        published = operations[source]["responses"][status].get("links", {})
        assert set(published) == set(links), (source, status)


def test_every_published_link_is_correct(schema):
    operations = _operations(schema)
    checked = 0
    for source_id, source in operations.items():
        for status, response in source["responses"].items():
            for name, link in response.get("links", {}).items():
                where = f"{source_id} {status} {name}"
                target = operations.get(link["operationId"])
                assert target is not None, f"{where}: no operation {link['operationId']}"
                declared = {(p["in"], p["name"]): p for p in target.get("parameters", [])}
                filled = set()
                for key, expression in link.get("parameters", {}).items():
                    location, _, param = key.rpartition(".")
                    matches = [p for (where_in, n), p in declared.items() if n == param and location in ("", where_in)]
                    assert len(matches) == 1, f"{where}: {key} is not one parameter of {link['operationId']}"
                    filled.add((matches[0]["in"], param))
                    value = _source_value(schema, source, status, expression)
                    assert _fits(value, matches[0]["schema"]), f"{where}: {expression} ({value}) does not fit {key}"
                needed = {key for key, p in declared.items() if p["in"] == "path"}
                assert needed <= filled, f"{where}: path parameters {needed - filled} are not filled"
                if "requestBody" in link:
                    body = _resolve(schema, target["requestBody"]["content"]["application/json"]["schema"])
                    for field, expression in link["requestBody"].items():
                        assert field in body["properties"], f"{where}: the request body has no {field!r}"
                        value = _source_value(schema, source, status, expression)
                        assert _fits(value, _resolve(schema, body["properties"][field])), f"{where}: {field}"
                checked += 1
    assert checked >= sum(len(links) for links in LINKS.values())


# --- The links followed by hand, on real data: each gives the next call what it needs ----------

class Walk:
    """Calls operations by operationId and follows ``LINKS`` from their answers, as a client would:
    each path/query parameter and body field the link names is read from the answer (or request)."""

    def __init__(self, client, schema: dict):
        self.client = client
        self.routes = {op["operationId"]: (method, path) for path, item in schema["paths"].items()
                       for method, op in item.items() if method in METHODS}

    def call(self, operation_id: str, *, path: dict | None = None, query: dict | None = None, body: dict | None = None,
             multipart: bool = False):
        method, template = self.routes[operation_id]
        url = template.format(**(path or {}))
        kwargs: dict = {"data": query} if method == "get" else {}
        if method == "post":
            kwargs = {"data": body or {}, "format": "multipart" if multipart else "json",
                      "HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}
        response = getattr(self.client, method)(url, **kwargs)
        return Step(operation_id, response, path or {})

    def follow(self, step: Step, name: str, *, body: dict | None = None, query: dict | None = None, expect: int = 200):
        assert step.response.status_code < 300, (step.operation_id, step.response.content)
        target, parameters, _, *link_body = LINKS[(step.operation_id, str(step.response.status_code))][name]
        path, query = {}, dict(query or {})
        for key, expression in parameters.items():
            location, _, param = key.rpartition(".")
            (query if location == "query" else path)[param] = step.value(expression)
        merged = {**(body or {}), **{field: step.value(e) for field, e in (link_body[0] if link_body else {}).items()}}
        nxt = self.call(target, path=path, query=query, body=merged)
        assert nxt.response.status_code == expect, (name, nxt.response.status_code, nxt.response.content)
        return nxt


class Step:
    def __init__(self, operation_id: str, response, path: dict):
        self.operation_id, self.response, self.path = operation_id, response, path

    @property
    def body(self):
        return self.response.json()

    def value(self, expression: str):
        if expression.startswith("$request.path."):
            return self.path[expression.removeprefix("$request.path.")]
        node = self.body
        for token in [t for t in expression.removeprefix("$response.body#").split("/") if t]:
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node


@pytest.fixture
def walk(api_client, schema, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    store = LocationFactory(code="ST-LK", kind="store", latitude=41.0, longitude=29.0, can_pickup=True, daily_capacity=50)
    other = LocationFactory(code="ST-LK2", kind="store", latitude=41.01, longitude=29.01, can_pickup=True, daily_capacity=50)
    dc = LocationFactory(code="DC-LK", kind="dc", latitude=40.8, longitude=29.4)
    make_visible(ChannelFactory(code="web"), store, other, dc)
    for sku in ("LK-0", "LK-1"):
        product = ProductFactory(sku=sku)
        for location in (store, other, dc):
            inventory_services.stock_receive(product=product, location=location, quantity=10)
    api_client.force_authenticate(MerchandiserFactory())
    return Walk(api_client, schema)


def _order(walk: Walk, **extra):
    created = walk.call("orders_create", body={"channel": "web", "external_id": uuid.uuid4().hex,
                                               "lines": [{"sku": "LK-0", "quantity": 2}], **extra})
    assert created.response.status_code == 201, created.response.content
    return created


def test_order_links(walk):
    created = _order(walk, latitude=41.0, longitude=29.0)
    assert walk.follow(created, "GetOrder").body["id"] == created.body["id"]
    walk.follow(created, "ListFulfillments")
    walk.follow(created, "ListChoices")
    pinned = walk.follow(created, "PinLine", body={"location": "ST-LK2"})
    assert walk.follow(pinned, "GetOrder").body["lines"][0]["fulfilled_from"][-1]["location"] == "ST-LK2"
    # the order is found (not 404); nothing was handed over yet, so nothing can be returned
    walk.follow(created, "ReturnOrder", body={"location": "ST-LK", "items": [{"line": 1, "quantity": 1}]}, expect=409)
    cancelled = walk.follow(created, "CancelOrder")
    again = walk.follow(cancelled, "CancelOrderAgain")
    assert cancelled.body["status"] == again.body["status"] == "cancelled"
    listed = walk.call("orders_list")
    assert walk.follow(listed, "GetOrder").body["id"] == created.body["id"]


def test_pickup_rejected_question_answered_along_the_links(walk):
    """BOPIS → its work → rejected at the store → the customer's question → answered with the option
    the link reads from the question (pickup at the other store)."""
    created = _order(walk, delivery_mode="bopis", pickup_location="ST-LK")
    work = walk.follow(walk.follow(created, "ListFulfillments"), "GetWork")
    assert walk.follow(work, "GetOrder").body["id"] == created.body["id"]
    line = work.body["lines"][0]
    walk.follow(work, "RejectWork", body={"lines": [{"line": line["id"], "quantity": line["quantity"], "reason": "not_found"}]})
    question = walk.follow(created, "ListChoices")
    assert question.body and question.body[0]["options"]
    answered = walk.follow(question, "AnswerChoice")
    assert answered.body["status"] != "open" and answered.body["chosen"] == question.body[0]["options"][0]["id"]
    walk.follow(answered, "ListChoices")
    walk.follow(answered, "GetOrder")


def test_work_links(walk):
    created = _order(walk, delivery_mode="bopis", pickup_location="ST-LK")
    work = walk.follow(walk.follow(created, "ListFulfillments"), "GetWork")
    started = walk.follow(work, "StartWork")
    assert walk.follow(started, "GetWork").body["status"] == started.body["status"]
    listed = walk.call("fulfillment_works_list")
    walk.follow(listed, "GetWork")


def test_hold_links(walk):
    held = walk.call("holds_create", body={"channel": "web", "lines": [{"sku": "LK-1", "quantity": 1}]})
    assert held.response.status_code == 201, held.response.content
    walk.follow(held, "GetHold")
    released = walk.follow(held, "ReleaseHold")
    again = walk.follow(released, "ReleaseHoldAgain")
    assert released.body["status"] == again.body["status"] == "released"
    assert walk.follow(released, "GetHold").body["status"] == "released"
    for_order = walk.call("holds_create", body={"channel": "web", "lines": [{"sku": "LK-1", "quantity": 1}]})
    order = walk.follow(for_order, "OrderFromHold", expect=201, body={
        "channel": "web", "external_id": uuid.uuid4().hex, "lines": [{"sku": "LK-1", "quantity": 1}],
        "latitude": 41.0, "longitude": 29.0})
    assert order.body["hold_id"] == for_order.body["id"]


def test_import_links(walk):
    uploaded = walk.call("imports_stock_create", multipart=True, body={
        "file": SimpleUploadedFile("s.csv", b"sku,location,quantity\nLK-0,ST-LK,4\n", content_type="text/csv")})
    assert uploaded.response.status_code == 202, uploaded.response.content
    walk.follow(uploaded, "GetImport")
    walk.follow(uploaded, "ImportErrors")
    cancelled = walk.follow(uploaded, "CancelImport")
    assert walk.follow(cancelled, "CancelImportAgain").body["status"] == "cancelled"
    assert walk.follow(cancelled, "GetImport").body["status"] == "cancelled"


def test_stock_links(walk):
    posted = walk.call("stock_movements_create", body={"movements": [
        {"external_id": "LK-R1", "kind": "receipt", "sku": "LK-0", "location": "ST-LK", "quantity": 3}]})
    assert posted.response.status_code == 200, posted.response.content
    movements = walk.follow(posted, "ListMovements")
    assert [m["external_id"] for m in movements.body["results"]][:1] == ["LK-R1"]
    levels = walk.follow(posted, "ListStockLevels")
    assert [(lv["sku"], lv["location"], lv["on_hand"]) for lv in levels.body["results"]] == [("LK-0", "ST-LK", 13)]
    walk.follow(levels, "GetStockLevel")
    available = walk.follow(posted, "GetAvailability", query={"channel": "web"})  # a merchandiser names the channel
    assert [item["sku"] for item in available.body["items"]] == ["LK-0"]
    assert walk.follow(posted, "CheckLedger").body
    counted = walk.call("stock_snapshots_create", body={"location": "ST-LK", "lines": [{"sku": "LK-1", "counted": 7}]})
    assert counted.response.status_code == 201, counted.response.content
    assert walk.follow(counted, "GetLocation").body["code"] == "ST-LK"
    walk.follow(counted, "ListStockLevels")
    walk.follow(walk.call("locations_list"), "GetLocation")
    walk.follow(walk.call("products_list"), "GetProduct")
