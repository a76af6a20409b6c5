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
