"""The dashboard page (the admin's index) and its CSV exports."""

from __future__ import annotations

from typing import Any


def dashboard_callback(request: Any, context: dict[str, Any]) -> dict[str, Any]:
    return context
