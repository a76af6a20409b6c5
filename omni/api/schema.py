"""Serializers that only describe shared response shapes in the OpenAPI schema."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable, e.g. insufficient_stock, unknown_sku.")
    message = serializers.CharField(help_text="For people: names what is wrong.")
    details = serializers.DictField(help_text="Per-field messages (field name → list of messages) or context.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    texts = {
        400: "Invalid request.", 401: "Not authenticated.", 403: "Not allowed.", 404: "Not found.", 409: "Conflict with current state.",
    }
    return {s: OpenApiResponse(ErrorSerializer, description=texts.get(s, "Error.")) for s in statuses}


# Every answer the API can give besides an operation's own, in the one error shape: a malformed
# request or query (400), no or a bad credential (401), not allowed (403), nothing there (404), a
# URL too long (414), too many requests (429); with a body: a conflict (409), a body too large (413)
# or not JSON (415). ``postprocess_errors`` documents them on every operation.
_COMMON = {400: "Invalid request (the body, a query parameter or the path).", 401: "Not authenticated.",
           403: "Not allowed.", 404: "Not found.", 414: "The URL is too long.", 429: "Too many requests; see Retry-After."}
_WITH_BODY = {409: "Conflict with the current state.", 413: "The request body is too large.",
              415: "Unsupported media type (send JSON)."}


def postprocess_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every operation documents the error answers it can give (``_COMMON``,
    and ``_WITH_BODY`` for writes), all with the ``Error`` shape; paths are documented without a
    trailing slash (every API path answers with or without one)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorDetail", {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}},
    })
    components.setdefault("Error", {"type": "object", "required": ["error"],
                                    "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}}})
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    paths = {}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            extra = dict(_COMMON)
            if method in ("post", "put", "patch", "delete"):
                extra.update(_WITH_BODY)
            if method == "delete":
                extra.pop(413), extra.pop(415)
            responses = operation.setdefault("responses", {})
            for status, text in extra.items():
                responses.setdefault(str(status), {"description": text, "content": error})
        paths[path.rstrip("/") or path] = item
    result["paths"] = paths
    return result


# OpenAPI links: how an answer feeds the next call (the order created → read it, list its
# fulfillments, cancel it, answer its customer's questions; a hold → read it, release it; an import →
# poll it, cancel it ...). Published in the schema for partners' clients, and followed by the
# stateful Schemathesis run in tests/fuzz. One row: (source operationId, status) → link name →
# (target operationId, {parameter: runtime expression}, description[, request body: {field:
# runtime expression}, merged into the body the client sends]). A parameter named ``query.x`` goes
# into the target's query string.
_ORDER = "$response.body#/id"
_LinkTable = dict[tuple[str, str], dict[str, tuple[str, dict[str, str], str] | tuple[str, dict[str, str], str, dict]]]
_ORDER_NEXT = {
    "GetOrder": ("orders_retrieve", {"id": _ORDER}, "Read the order."),
    "CancelOrder": ("orders_cancel_create", {"id": _ORDER}, "Cancel the order (or some of its lines)."),
    "ListFulfillments": ("orders_fulfillments_list", {"id": _ORDER}, "Where and how the order is being fulfilled."),
    "ListChoices": ("order_choices_list", {"id": _ORDER}, "The questions put to the customer about the order."),
}
_WORK = {"id": "$response.body#/id"}
_WORK_ACTIONS = ("start", "pick", "pack", "ship", "ready", "dispatch", "receive", "hand_over", "reject")
LINKS: _LinkTable = {
    ("orders_create", "201"): {
        **_ORDER_NEXT,
        "PinLine": ("orders_lines_pin", {"id": _ORDER, "line_no": "$response.body#/lines/0/line"},
                    "Move the first line's open units to another location."),
        "ReturnOrder": ("orders_returns_create", {"id": _ORDER}, "Take a return of the order's units."),
    },
    ("orders_list", "200"): {
        "GetOrder": ("orders_retrieve", {"id": "$response.body#/results/0/id"}, "Read the first order listed."),
    },
    ("orders_retrieve", "200"): {k: v for k, v in _ORDER_NEXT.items() if k != "GetOrder"},
    ("orders_cancel_create", "200"): {
        "GetOrder": _ORDER_NEXT["GetOrder"],
        "CancelOrderAgain": ("orders_cancel_create", {"id": _ORDER},
                             "Cancelling what is already cancelled confirms it (200, nothing changes)."),
    },
    ("orders_lines_pin", "200"): {"GetOrder": _ORDER_NEXT["GetOrder"]},
    ("orders_returns_create", "200"): {"GetOrder": _ORDER_NEXT["GetOrder"]},
    ("order_choices_list", "200"): {
        "AnswerChoice": ("order_choice_answer", {"id": "$request.path.id", "choice_id": "$response.body#/0/id"},
                         "Answer the first question with its first option.", {"option": "$response.body#/0/options/0/id"}),
    },
    ("order_choice_answer", "200"): {
        "GetOrder": ("orders_retrieve", {"id": "$request.path.id"}, "Read the order as the answer left it."),
        "ListChoices": ("order_choices_list", {"id": "$request.path.id"}, "The order's questions, this one answered."),
    },
    ("orders_fulfillments_list", "200"): {
        "GetWork": ("fulfillment_works_retrieve", {"id": "$response.body#/0/id"}, "Read the first fulfillment."),
    },
    ("fulfillment_works_list", "200"): {
        "GetWork": ("fulfillment_works_retrieve", {"id": "$response.body#/results/0/id"}, "Read the first work listed."),
    },
    ("fulfillment_works_retrieve", "200"): {
        "GetOrder": ("orders_retrieve", {"id": "$response.body#/order"}, "Read the work's order."),
        **{"".join(p.title() for p in action.split("_")) + "Work": (f"fulfillment_work_{action}", _WORK,
                                                                     f"Move the work on: {action.replace('_', '-')}.")
           for action in _WORK_ACTIONS},
    },
    **{(f"fulfillment_work_{action}", "200"): {
        "GetWork": ("fulfillment_works_retrieve", _WORK, "Read the work as it now is."),
    } for action in _WORK_ACTIONS},
    ("holds_create", "201"): {
        "OrderFromHold": ("orders_create", {}, "Place the order for the held units (lines as held).",
                          {"hold_id": "$response.body#/id"}),
        "GetHold": ("holds_retrieve", {"id": "$response.body#/id"}, "Read the hold."),
        "ReleaseHold": ("holds_destroy", {"id": "$response.body#/id"}, "Release the hold's units."),
    },
    ("holds_retrieve", "200"): {
        "ReleaseHold": ("holds_destroy", {"id": "$response.body#/id"}, "Release the hold's units."),
    },
    ("holds_destroy", "200"): {
        "GetHold": ("holds_retrieve", {"id": "$response.body#/id"}, "Read the released hold."),
        "ReleaseHoldAgain": ("holds_destroy", {"id": "$response.body#/id"},
                             "Releasing a released hold confirms it (200, nothing changes)."),
    },
    ("imports_stock_create", "202"): {
        "GetImport": ("imports_stock_retrieve", {"id": "$response.body#/id"}, "Poll the import's progress."),
        "CancelImport": ("imports_stock_cancel_create", {"id": "$response.body#/id"}, "Cancel the import."),
        "ImportErrors": ("imports_stock_errors.csv_retrieve", {"id": "$response.body#/id"}, "The import's errors as CSV."),
    },
    ("imports_stock_retrieve", "200"): {
        "CancelImport": ("imports_stock_cancel_create", {"id": "$response.body#/id"}, "Cancel the import."),
        "ImportErrors": ("imports_stock_errors.csv_retrieve", {"id": "$response.body#/id"}, "The import's errors as CSV."),
    },
    ("imports_stock_cancel_create", "200"): {
        "GetImport": ("imports_stock_retrieve", {"id": "$response.body#/id"}, "The import as the cancel left it."),
        "CancelImportAgain": ("imports_stock_cancel_create", {"id": "$response.body#/id"},
                              "Cancelling a cancelled or finished import confirms it."),
    },
    **{("stock_movements_create", status): {
        "ListMovements": ("stock_movements_list", {"query.sku": "$response.body#/results/0/stock/sku",
                                                   "query.location": "$response.body#/results/0/stock/location"},
                          "The ledger of the first item's SKU at its location."),
        "ListStockLevels": ("stock_levels_list", {"query.sku": "$response.body#/results/0/stock/sku",
                                                  "query.location": "$response.body#/results/0/stock/location"},
                            "The first item's stock level."),
        "GetAvailability": ("availability_list", {"query.sku": "$response.body#/results/0/stock/sku"},
                            "What channels may sell of the first item's SKU."),
        "CheckLedger": ("ledger_check_retrieve", {}, "Check that the stock levels agree with the ledger."),
    } for status in ("200", "207")},
    ("stock_snapshots_create", "201"): {
        "GetLocation": ("locations_retrieve", {"code": "$response.body#/location"}, "The location counted."),
        "ListStockLevels": ("stock_levels_list", {"query.location": "$response.body#/location"},
                            "The location's stock levels after the snapshot."),
    },
    ("locations_list", "200"): {
        "GetLocation": ("locations_retrieve", {"code": "$response.body#/results/0/code"}, "The first location listed."),
    },
    ("products_list", "200"): {
        "GetProduct": ("products_retrieve", {"sku": "$response.body#/results/0/sku"}, "The first product listed."),
    },
    ("stock_levels_list", "200"): {
        "GetStockLevel": ("stock_levels_retrieve", {"id": "$response.body#/results/0/id"}, "The first stock level listed."),
    },
}


def postprocess_links(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook (after ``postprocess_errors``): add ``LINKS`` to the responses they
    start from. A link whose source or target operation the schema lacks is left out (the served
    schema never breaks); tests/fuzz/test_schema_links.py checks that every row is published."""
    operations: dict[str, dict] = {op.get("operationId"): op for item in result.get("paths", {}).values()
                  for method, op in item.items() if method in ("get", "post", "put", "patch", "delete")}
    for (source, status), links in LINKS.items():
        response = operations.get(source, {}).get("responses", {}).get(status)
        published = {}
        for name, (target, parameters, description, *body) in links.items():
            if target in operations:
                published[name] = {"operationId": target, "parameters": parameters, "description": description,
                                    **({"requestBody": body[0]} if body else {})}
        if response is not None and published:
            response["links"] = published
    return result


REPLAYED_HEADER_SCHEMA = {
    "description": "`true` when this answer is the stored answer of an earlier request with the same "
    "Idempotency-Key (nothing was done again); absent on the first answer.",
    "schema": {"type": "string", "enum": ["true"]},
}


# Refusals decided by the request's own work are stored and replayed; 401/403/413/429 … are
# answered before the key is looked at, so never replayed.
REPLAYABLE_REFUSALS = ("400", "404", "409", "422")


def postprocess_replayed_header(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every operation that takes an ``Idempotency-Key`` documents the
    ``Idempotent-Replayed`` header on each of its answers (a replay repeats the first answer, refusals included)."""
    for item in result.get("paths", {}).values():
        for method, op in item.items():
            if method not in ("post", "put", "patch", "delete"):
                continue
            if not any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in op.get("parameters", [])):
                continue
            for status, response in op.get("responses", {}).items():
                if (status.startswith("2") or status in REPLAYABLE_REFUSALS) and "$ref" not in response:
                    response.setdefault("headers", {})["Idempotent-Replayed"] = REPLAYED_HEADER_SCHEMA
    return result
