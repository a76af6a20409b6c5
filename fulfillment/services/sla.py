"""Deadlines: how long a location has to prepare each kind of work (its promise).

A location with a ``LocationSLA`` counts its promise in opening hours, in its own time zone: work
created after closing (or on a closed day) starts at the next opening, and what a day's opening
hours do not cover rolls over to the next opening. Without one, the fixed defaults below run
around the clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fulfillment.models import LocationSLA, WorkKind
from inventory.models import Location
from omni.config_cache import ModelRows

# Hours from the work's creation until it must be ready (pickup) or shipped, without a LocationSLA.
DEFAULT_PROMISE_HOURS: dict[str, int] = {
    WorkKind.BOPIS: 2,
    WorkKind.SHIP_FROM_STORE: 24,
    WorkKind.WAREHOUSE_SHIP: 24,
    WorkKind.SHIP_TO_STORE: 72,
}

_SLA_FIELD: dict[str, str] = {WorkKind.BOPIS: "bopis_hours", WorkKind.SHIP_FROM_STORE: "ship_hours", WorkKind.WAREHOUSE_SHIP: "ship_hours",
              WorkKind.SHIP_TO_STORE: "ship_to_store_hours"}


def _zone(location: Location) -> ZoneInfo:
    try:
        return ZoneInfo(location.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def opening_hours_add(*, sla: LocationSLA, zone: ZoneInfo, start: datetime, hours: Decimal | float) -> datetime:
    """``start`` plus ``hours`` of the location's opening time (a timezone-aware result)."""
    left = timedelta(hours=float(hours))
    local = start.astimezone(zone)
    days = {int(c) for c in sla.open_days} or set(range(7))
    for _ in range(800):  # at most two years of days; an SLA always has an open day
        day = local.date()
        opens = datetime.combine(day, sla.opens_at, tzinfo=zone)
        closes = datetime.combine(day, sla.closes_at, tzinfo=zone)
        if day.weekday() in days and local < closes:
            begin = max(local, opens)
            if begin + left <= closes:
                return begin + left
            left -= closes - begin
        local = datetime.combine(day + timedelta(days=1), sla.opens_at, tzinfo=zone)
    raise ValueError(f"{sla} has no opening hours.")


_LOOK_UP: Any = object()


# Location id → its SLA row (none: the defaults), kept per process: every order's work reads it and
# SLAs change rarely. Cleared on every save or delete of an SLA in this process (the admin's).
_SLAS = ModelRows(LocationSLA, key="location_id")


def work_slas(*, location_ids: Iterable[int]) -> dict[int, LocationSLA]:
    """location id → its SLA, for those of these locations that have one: new instances for each
    caller, from the process's cache (``omni.config_cache``; no query while it is fresh)."""
    return _SLAS.by_key(location_ids)


def work_deadline(*, kind: str, location: Location, start: datetime, sla: LocationSLA | None = _LOOK_UP) -> datetime:
    """When work of ``kind`` created at ``start`` at ``location`` is due. ``sla``: the location's,
    when the caller already has it (``work_slas``; ``None``: it has none)."""
    if sla is _LOOK_UP:
        sla = LocationSLA.objects.filter(location_id=location.pk).first()
    if sla is None:
        return start + timedelta(hours=DEFAULT_PROMISE_HOURS[kind])
    return opening_hours_add(sla=sla, zone=_zone(location), start=start, hours=getattr(sla, _SLA_FIELD[kind]))
