"""One JSON error shape for the whole API::

    {"error": {"code": "insufficient_stock", "message": "…", "details": {"quantity": ["…"]}}}

``code`` is stable and machine-readable; ``message`` is for people; ``details`` names fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from omni.errors import OmniError

logger = logging.getLogger("omni.api")

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "malformed_request",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "invalid",
}


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


@dataclass(frozen=True)
class FirstError:
    """The first error of a DRF error tree: where (``lines[1].sku``; empty when it is about the
    whole input), what, and its code."""

    field: str
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def first_error(detail: Any, *, path: str = "") -> FirstError:
    """Walk a serializer's errors (dicts of fields, lists of items; ``non_field_errors`` and
    ``detail`` name no field) to the first message, for the human ``message`` of an API error."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(value, (dict, list)) and not value:
                continue
            inner = path if key in ("non_field_errors", "detail") else (f"{path}.{key}" if path else str(key))
            return first_error(value, path=inner)
        return FirstError(path, "Invalid input.", "invalid")
    if isinstance(detail, list):
        for i, item in enumerate(detail):
            if isinstance(item, (dict, list)):
                if item:
                    return first_error(item, path=f"{path}[{i}]")
                continue
            return first_error(item, path=path)
        return FirstError(path, "Invalid input.", "invalid")
    return FirstError(path, str(detail), str(getattr(detail, "code", None) or "invalid"))


def exception_handler(exc, context):
    """Every exception a view lets out becomes the JSON error shape: domain errors with their own
    status, DRF's with theirs, an oversized or suspicious request 413 / 400, and anything else a
    500 (logged with its traceback; the request's transaction is rolled back)."""
    if isinstance(exc, OmniError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("request_too_large", "The request body is too large."), status=413)
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body("bad_request", str(exc) or "Bad request."), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unexpected error in %s", getattr(context.get("view"), "__class__", type(None)).__name__, exc_info=exc)
        set_rollback()
        return Response(
            error_body("server_error", "Something went wrong on our side; nothing of this request was applied. Try again; "
                       "if it persists, tell us the time of the request."),
            status=500,
        )
    code = next((c for klass, c in _DRF_CODES.items() if isinstance(exc, klass)), "error")
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", str(first_error(exc.detail)), details)
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        response.data = error_body(code, str(first_error(exc.detail)))
    return response
