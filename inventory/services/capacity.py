"""Daily capacity of a location, claimed like stock: a conditional update of a per-location,
per-local-day counter (``LocationDayLoad``), in the caller's transaction.

``capacity_claim`` takes one order slot at each location that has a ``daily_capacity``; when a
location has none left today the claim fails with ``capacity_exhausted`` (an ``InsufficientStock``,
so that routing's retry loop routes again without that location). Counters are taken in
location-id order, and before any stock row, so that two orders never wait on each other in a
cycle. ``capacity_release`` gives a slot back (an order cancelled or rejected before fulfilment).

A location whose capacity fills today drops out of the ATP of every channel routed there (and
comes back when a slot frees): the claim or release that crosses the limit writes outbox rows for
the SKUs the location has free stock of, in the same transaction, so channels get the new figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from omni.errors import InsufficientStock, NotFound, ValidationFailed
from omni.prepared import execute_prepared

from ..models import Location, LocationDayLoad, StockLevel
from ..outbox import outbox_record
from ..selectors import local_day, locations_by_id, locations_changed

TABLE = LocationDayLoad._meta.db_table
# One slot at (location, local day), unless the counter is at its limit: no row comes back then.
# A prepared statement (``omni.prepared``): as plain text PostgreSQL parsed and planned it on every
# claim (an ``INSERT … ON CONFLICT`` plans dearer than it runs).
_CLAIM_SQL = (f"INSERT INTO {TABLE} (location_id, day, orders) VALUES (%s, %s, 1) "
              f"ON CONFLICT (location_id, day) DO UPDATE SET orders = {TABLE}.orders + 1 "
              f"WHERE {TABLE}.orders < %s RETURNING orders")


def capacity_claim(*, location_ids: Iterable[int], now: datetime | None = None, force_ids: Iterable[int] = ()) -> dict[int, date]:
    """Take one order slot today at each of these locations that has a daily capacity; all or
    none (the caller's transaction rolls back on ``capacity_exhausted``). ``force_ids``: locations
    whose units the order already holds (a checkout hold's): counted, never refused. Returns the
    local day claimed per location. Must run inside ``transaction.atomic()``."""
    force = set(force_ids)
    ids = sorted({int(i) for i in location_ids} | force)
    claimed: dict[int, date] = {}
    filled: list[int] = []
    if not ids:
        return claimed
    # The locations' capacities from the process's cache of location rows (every order claims;
    # a capacity set elsewhere shows within OMNI_CONFIG_CACHE_SECONDS, one set here at once).
    locations = locations_by_id(location_ids=ids)
    rows = [(pk, loc.code, loc.timezone, loc.daily_capacity) for pk, loc in sorted(locations.items())
            if loc.daily_capacity is not None]
    if not rows:  # none of them has a daily capacity (most orders): nothing to claim, no cursor opened
        return claimed
    with connection.cursor() as cur:
        for pk, code, tz_name, capacity in rows:
            day = local_day(tz_name, now)
            limit = 2**31 - 1 if pk in force else (capacity or 0)
            ok = False
            if limit > 0:
                execute_prepared(cur, _CLAIM_SQL, [pk, day, limit], prefix="omni_cap_")
                row = cur.fetchone()
                ok = row is not None
                if ok and capacity is not None and row[0] == capacity:  # this claim took the last slot
                    filled.append(pk)
            if not ok:
                raise InsufficientStock(
                    f"{code} has no capacity left today ({capacity} orders a day). Nothing was reserved.",
                    code="capacity_exhausted", details={"location": code, "daily_capacity": capacity},
                )
            claimed[pk] = day
    _capacity_moved(filled)
    return claimed


def capacity_release(*, claims: Iterable[tuple[int, date]], now: datetime | None = None) -> None:
    """Give back one order slot per (location, local day) claimed. Must run inside ``transaction.atomic()``."""
    claims = sorted(set(claims))
    if not claims:
        return
    limits = {pk: (cap, tz_name) for pk, cap, tz_name in Location.objects.filter(
        pk__in={loc for loc, _d in claims}, daily_capacity__isnull=False).values_list("pk", "daily_capacity", "timezone")}
    freed: list[int] = []
    with connection.cursor() as cur:
        for location_id, day in claims:
            cur.execute(f"UPDATE {TABLE} SET orders = orders - 1 WHERE location_id = %s AND day = %s AND orders > 0 "
                        f"RETURNING orders", [location_id, day])
            row = cur.fetchone()
            capacity, tz_name = limits.get(location_id, (None, "UTC"))
            # A slot of a full location freed today: it is promised to channels again.
            if row is not None and capacity is not None and row[0] == capacity - 1 and day == local_day(tz_name, now):
                freed.append(location_id)
    _capacity_moved(freed)


def _capacity_moved(location_ids: Iterable[int]) -> None:
    """A location filled up or freed a slot today: its free stock left (or rejoined) the channels'
    ATP, so every SKU it holds free units of gets an outbox row (channel sync republishes them)."""
    for location_id in sorted(set(location_ids)):
        product_ids = (StockLevel.objects.filter(location_id=location_id, on_hand__gt=F("reserved"))
                       .values_list("product_id", flat=True))
        outbox_record(product_ids=list(product_ids), location_id=location_id, reason="capacity")


REOPENING_WINDOW = timedelta(minutes=15)


def capacity_reopenings_announce(*, now: datetime | None = None, window: timedelta = REOPENING_WINDOW) -> list[int]:
    """A store that filled its capacity yesterday reopens at its local midnight (a new day's
    counter): its free stock rejoins the channels' ATP without any claim or release to say so.
    Announce it like a freed slot (outbox rows for its SKUs, reason ``capacity``).

    Run by beat every ``window`` (``inventory.tasks.capacity_reopenings_announce``): a location is
    announced by the run that falls in the first ``window`` of its local day, so each reopening
    once whatever its time zone (offsets are whole quarter hours). A paused location (capacity 0)
    does not reopen. Returns the locations announced."""
    now = now or timezone.now()
    due: dict[int, date] = {}
    for pk, tz_name in Location.objects.filter(daily_capacity__gt=0).order_by("pk").values_list("pk", "timezone"):
        try:
            zone = ZoneInfo(tz_name or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        local = now.astimezone(zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if local - midnight < window:
            due[pk] = local.date() - timedelta(days=1)
    if not due:
        return []
    full = sorted(
        pk for pk, day, orders, capacity in LocationDayLoad.objects.filter(location_id__in=list(due), day__in=set(due.values()))
        .values_list("location_id", "day", "orders", "location__daily_capacity")
        if day == due[pk] and capacity is not None and orders >= capacity
    )
    with transaction.atomic():
        _capacity_moved(full)
    return full


def location_capacity_set(*, location: Location | int, daily_capacity: int | None) -> Location:
    """Set how many orders a location takes per local day: ``None`` unlimited, ``0`` pauses new
    work (routing, ATP and BOPIS store choice leave it out). A negative figure is refused."""
    if daily_capacity is not None and (isinstance(daily_capacity, bool) or not isinstance(daily_capacity, int)
                                       or daily_capacity < 0):
        raise ValidationFailed(f"Daily capacity must be a whole number of 0 or more, or empty; got {daily_capacity!r}.",
                               code="invalid_capacity", details={"daily_capacity": ["0 or more, or empty."]})
    pk = location.pk if isinstance(location, Location) else location
    with transaction.atomic():
        before = Location.objects.select_for_update(of=("self",)).filter(pk=pk).values_list("daily_capacity", flat=True)
        if not before:
            raise NotFound(f"Location {pk} does not exist.", code="unknown_location")
        if before[0] != daily_capacity:
            Location.objects.filter(pk=pk).update(daily_capacity=daily_capacity)
            locations_changed(location_ids=[pk])
            _capacity_moved([pk])  # the new figure may fill the location today, or free it
    return Location.objects.get(pk=pk)
