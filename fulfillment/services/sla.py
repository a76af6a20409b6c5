"""Deadlines: how long a location has to prepare each kind of work (its promise)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fulfillment.models import WorkKind
from inventory.models import Location

# Hours from the work's creation until it must be ready (pickup) or shipped.
DEFAULT_PROMISE_HOURS: dict[str, int] = {
    WorkKind.BOPIS: 2,
    WorkKind.SHIP_FROM_STORE: 24,
    WorkKind.WAREHOUSE_SHIP: 24,
    WorkKind.SHIP_TO_STORE: 72,
}


def work_deadline(*, kind: str, location: Location, start: datetime) -> datetime:
    """When work of ``kind`` created at ``start`` at ``location`` is due."""
    return start + timedelta(hours=DEFAULT_PROMISE_HOURS[kind])
