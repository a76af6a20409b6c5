"""Reads over inventory. No writes here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection
from django.db.models import DateField, IntegerField, QuerySet, Sum, Value
from django.utils import timezone

from omni.config_cache import ModelRows
from omni.errors import NotFound
from omni.prepared import execute_prepared

from .models import Location, LocationDayLoad, Product, StockLevel, Transfer, TransferStatus


def product_get_by_sku(*, sku: str) -> Product:
    try:
        return Product.objects.get(sku=sku)
    except Product.DoesNotExist:
        raise NotFound(f"Unknown SKU {sku!r}.", code="unknown_sku", details={"sku": [f"No product with SKU {sku!r}."]}) from None


_PRODUCT_IDS_SQL = (f'SELECT "id", "sku" FROM "{Product._meta.db_table}" WHERE "sku" = ANY(%s)')


def product_ids_by_sku(*, skus: Sequence[str]) -> dict[str, int]:
    """SKU → product id for those of ``skus`` that exist (one prepared statement on PostgreSQL: the
    availability reads look their SKUs up on every request)."""
    if connection.vendor != "postgresql":
        return dict(Product.objects.filter(sku__in=list(skus)).values_list("sku", "id"))
    with connection.cursor() as cursor:
        execute_prepared(cursor, _PRODUCT_IDS_SQL, [list(skus)], prefix="omni_inv_",
                         body=_PRODUCT_IDS_SQL.replace("%s", "$1::text[]"))
        return {sku: pk for pk, sku in cursor.fetchall()}


# Location id → its row, kept per process: every order reads its locations' rows (capacity, the
# answer's locations), and they change rarely. Cleared on every save or delete of a location in
# this process, and by ``location_capacity_set``.
_LOCATIONS = ModelRows(Location)


def locations_by_id(*, location_ids: Iterable[int]) -> dict[int, Location]:
    """id → location, for those of these ids that exist: a new instance for each caller, built from
    the process's cached rows (``omni.config_cache``; a change elsewhere shows within its TTL)."""
    return _LOCATIONS.by_key(location_ids)


def locations_changed(*, location_ids: Iterable[int] | None = None) -> None:
    """Locations were written without ``save()`` (``QuerySet.update``): read them again next time."""
    _LOCATIONS.cache.clear_now_and_on_commit(location_ids)


def location_get_by_code(*, code: str) -> Location:
    try:
        return Location.objects.get(code=code)
    except Location.DoesNotExist:
        raise NotFound(
            f"Unknown location {code!r}.", code="unknown_location", details={"location": [f"No location with code {code!r}."]}
        ) from None


def stock_levels(*, sku: str | None = None, location_code: str | None = None, kind: str | None = None,
                 location_ids: list[int] | None = None) -> QuerySet[StockLevel]:
    qs = StockLevel.objects.select_related("product", "location").order_by("product__sku", "location__code")
    if sku:
        qs = qs.filter(product__sku=sku)
    if location_code:
        qs = qs.filter(location__code=location_code)
    if kind:
        qs = qs.filter(location__kind=kind)
    if location_ids is not None:
        qs = qs.filter(location_id__in=location_ids)
    return qs


# --- daily capacity (claimed in inventory.services.capacity) ---------------------------------


def local_day(tz_name: str, now: datetime | None = None) -> date:
    """The calendar day at a location (an unknown time zone counts as UTC)."""
    now = now or timezone.now()
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def capacity_used(*, location_ids: Iterable[int], now: datetime | None = None) -> dict[int, int]:
    """Orders each location has taken on its own today (ONE query)."""
    ids = list(location_ids)
    if not ids:
        return {}
    now = now or timezone.now()
    utc_day = now.astimezone(ZoneInfo("UTC")).date()
    rows = (LocationDayLoad.objects.filter(location_id__in=ids, day__range=(utc_day - timedelta(days=1), utc_day + timedelta(days=1)))
            .values_list("location_id", "day", "orders", "location__timezone"))
    return {loc: n for loc, day, n, tz_name in rows if day == local_day(tz_name, now)}


def locations_at_capacity(*, location_ids: Iterable[int] | None = None, now: datetime | None = None) -> frozenset[int]:
    """Locations with a daily capacity that today's orders have used up, and those paused (a daily
    capacity of 0, with or without orders today) (ONE query)."""
    now = now or timezone.now()
    utc_day = now.astimezone(ZoneInfo("UTC")).date()
    qs = LocationDayLoad.objects.filter(day__range=(utc_day - timedelta(days=1), utc_day + timedelta(days=1)),
                                        location__daily_capacity__isnull=False)
    paused = Location.objects.filter(daily_capacity=0).annotate(
        d=Value(utc_day, output_field=DateField()), n=Value(0, output_field=IntegerField()))
    if location_ids is not None:
        ids = list(location_ids)
        qs, paused = qs.filter(location_id__in=ids), paused.filter(pk__in=ids)
    # no ORDER BY in either half (Location's default ordering): SQLite refuses it inside a UNION
    rows = qs.order_by().values_list("location_id", "day", "orders", "location__timezone", "location__daily_capacity").union(
        paused.order_by().values_list("pk", "d", "n", "timezone", "daily_capacity"), all=True)
    return frozenset(loc for loc, day, n, tz_name, cap in rows
                     if cap is not None and (cap == 0 or (day == local_day(tz_name, now) and n >= cap)))


def shelves_at(*, location_id: int, product_ids: Iterable[int]) -> dict[int, str]:
    """Product id -> where it sits at this location (only products whose stock row names a shelf)."""
    return dict(StockLevel.objects.filter(location_id=location_id, product_id__in=list(product_ids))
                .exclude(shelf="").values_list("product_id", "shelf"))


def product_by_code(*, code: str) -> Product | None:
    """The product a typed or scanned code names: its SKU (any case), its primary barcode or one of
    its other barcodes. ``None`` when nothing matches."""
    code = (code or "").strip()
    if not code:
        return None
    product = (Product.objects.filter(sku__iexact=code).first() or Product.objects.filter(barcode=code).first())
    if product is None:
        product = Product.objects.filter(barcodes__code=code).first()
    return product


def units_in_transit(*, to_location_ids: Iterable[int] | None = None) -> dict[tuple[int, int], int]:
    """Units shipped by a transfer and not yet received, by (product id, destination id) (ONE query)."""
    qs = Transfer.objects.filter(status=TransferStatus.IN_TRANSIT)
    if to_location_ids is not None:
        qs = qs.filter(to_location_id__in=list(to_location_ids))
    rows = qs.values("product_id", "to_location_id").annotate(units=Sum("quantity")).order_by()
    return {(r["product_id"], r["to_location_id"]): r["units"] for r in rows}


def transfers_in_transit(*, location_id: int) -> tuple[list[Transfer], list[Transfer]]:
    """(coming to, leaving from) ``location_id``: transfers still in transit, oldest first."""
    qs = (Transfer.objects.filter(status=TransferStatus.IN_TRANSIT).select_related("product", "from_location", "to_location")
          .order_by("shipped_at", "pk"))
    return list(qs.filter(to_location_id=location_id)), list(qs.filter(from_location_id=location_id))


def locations_received_since(*, product_id: int, since: dict[int, datetime]) -> set[int]:
    """Of the locations in ``since`` (location id → a time), those where units of the product arrived
    (a receipt or a transfer in: ``StockLevel.last_received_at``) after that time."""
    if not since:
        return set()
    rows = StockLevel.objects.filter(product_id=product_id, location_id__in=list(since),
                                     last_received_at__isnull=False).values_list("location_id", "last_received_at")
    return {lid for lid, at in rows if at is not None and at > since[lid]}
