"""Domain errors shared by every app.

A service raises one of these; every entry point (API, admin, staff pages, CSV import,
management command) turns it into the same clear message. ``code`` is stable and
machine-readable, ``message`` is for people, ``details`` names the field(s) at fault.
"""

from __future__ import annotations

from typing import Any


class OmniError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(OmniError):
    status_code = 400
    default_code = "invalid"


class NotFound(OmniError):
    status_code = 404
    default_code = "not_found"


class InsufficientStock(OmniError):
    status_code = 409
    default_code = "insufficient_stock"


class Conflict(OmniError):
    status_code = 409
    default_code = "conflict"


class Forbidden(OmniError):
    status_code = 403
    default_code = "forbidden"


class IllegalTransition(OmniError):
    status_code = 409
    default_code = "illegal_transition"
