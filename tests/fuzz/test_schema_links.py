"""The OpenAPI links the schema publishes (omni/api/schema.py ``LINKS``) are all there and correct:
each names an operation that exists, fills only parameters the target declares (and every path
parameter it needs), and reads values from where the source's answer (or request) has them, of the
type the target expects. The stateful fuzz (test_schema_fuzz.py) follows them against the running
API; this test checks each one, including those that fuzzing reaches rarely."""

from __future__ import annotations

import pytest

from omni.api.schema import LINKS

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
