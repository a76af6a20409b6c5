"""The API's outer guard: whatever a client sends, the answer is the JSON error shape, never an
HTML page, and nothing malformed reaches a view.

- ``ApiGuardMiddleware`` (first in ``MIDDLEWARE``) answers, for paths under ``/api/``: an over-long
  URL 414, a body larger than allowed 413, NUL or control characters in the path or the query 400.
- ``JSONParser`` bounds nesting depth (400 instead of a RecursionError) and refuses NUL and
  control characters in any key or string (400, naming where).
- ``api_handler404`` / ``api_handler500``: unknown ``/api/`` paths and unexpected errors in JSON.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from omni.errors import ValidationFailed
from omni.limits import has_control_characters

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
MAX_PATH_CHARS = 2048
MAX_QUERY_CHARS = 8192
MAX_JSON_DEPTH = 32


def max_body_bytes(content_type: str) -> int:
    """JSON and forms: ``OMNI_API_MAX_BODY_BYTES`` (10 MB); a multipart CSV upload: ``OMNI_API_MAX_UPLOAD_BYTES``."""
    if content_type.startswith("multipart/"):
        return settings.OMNI_API_MAX_UPLOAD_BYTES
    return settings.OMNI_API_MAX_BODY_BYTES


def json_error(status: int, code: str, message: str, details: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": details or {}}}, status=status)


class ApiGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            refused = self.refuse(request)
            if refused is not None:
                return refused
            self.optional_slash(request)
        return self.get_response(request)

    @staticmethod
    def optional_slash(request: HttpRequest) -> None:
        """Every API path answers with or without a trailing slash (the schema shows none)."""
        path = request.path_info
        if path.endswith("/") and len(path) > len(API_PREFIX):
            try:
                resolve(path)
            except Resolver404:
                request.path_info = path.rstrip("/")

    @staticmethod
    def refuse(request: HttpRequest) -> JsonResponse | None:
        query = request.META.get("QUERY_STRING", "")
        if len(request.path) > MAX_PATH_CHARS or len(query) > MAX_QUERY_CHARS:
            return json_error(414, "uri_too_long", f"The URL is too long: at most {MAX_PATH_CHARS} characters of path and "
                              f"{MAX_QUERY_CHARS} of query string.")
        if has_control_characters(request.path):
            return json_error(400, "control_character", "The URL path contains a NUL or control character.",
                              {"path": ["Control characters are not allowed."]})
        for key, values in request.GET.lists():
            if has_control_characters(key) or any(has_control_characters(v) for v in values):
                return json_error(400, "control_character", f"The query parameter {key!r} contains a NUL or control character.",
                                  {key: ["Control characters are not allowed."]})
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "malformed_request", "Content-Length is not a number.")
        limit = max_body_bytes(request.META.get("CONTENT_TYPE", ""))
        if length > limit:
            return json_error(413, "request_too_large", f"The request body is {length} bytes; at most {limit} are accepted.",
                              {"limit_bytes": limit})
        return None


def _check_tree(data: Any) -> None:
    """Depth and control characters of parsed JSON, without recursion."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)) and depth > MAX_JSON_DEPTH:
            raise ValidationFailed(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.", code="too_deep",
                                   details={path or "body": [f"At most {MAX_JSON_DEPTH} levels."]})
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if has_control_characters(key):
                    raise ValidationFailed("A key of the JSON body contains a NUL or control character.", code="control_character",
                                           details={path or "body": ["Control characters are not allowed."]})
                stack.append((item, where, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str) and has_control_characters(value):
            raise ValidationFailed(f"{path or 'The body'} contains a NUL or control character.", code="control_character",
                                   details={path or "body": ["Control characters are not allowed."]})


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded: nesting depth, control characters, non-finite numbers."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ValidationFailed(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.", code="too_deep",
                                   details={"body": [f"At most {MAX_JSON_DEPTH} levels."]}) from None
        except ParseError as exc:
            raise ParseError(f"The body is not valid JSON: {exc.detail}") from None
        _check_tree(data)
        return data


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return json_error(404, "not_found", f"No API endpoint at {request.path[:200]}; see /api/v1/docs/.")
    return defaults.page_not_found(request, exception)


def api_handler500(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return json_error(500, "server_error", "Something went wrong on our side; nothing you sent was half-applied. "
                          "Try again; if it persists, tell us the time of the request.")
    return defaults.server_error(request)


def api_handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return json_error(400, "bad_request", str(exception) if exception else "Bad request.")
    return defaults.bad_request(request, exception or Exception("Bad request."))


def api_handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return json_error(403, "permission_denied", "You may not do this.")
    return defaults.permission_denied(request, exception or Exception("Forbidden."))


__all__ = ["ApiGuardMiddleware", "JSONParser", "api_handler400", "api_handler403", "api_handler404", "api_handler500"]
