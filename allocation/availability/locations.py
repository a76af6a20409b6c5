"""Availability per stock row (on hand, reserved, the location safety stock that binds there) and
over the whole pool, and the reservation floors."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import OuterRef, Subquery

from allocation.channels.models import Channel
from allocation.safety_stock.models import SafetyStockPolicy, SafetyStockScope
from inventory.models import LocationKind, StockLevel

from .context import channel_contexts
from .sql import _execute, _pg, _product_filter


@dataclass(frozen=True)
class LocationAvailability:
    product_id: int
    location_id: int
    on_hand: int
    reserved: int
    safety_stock: int
    safety_stock_policy_id: int | None
    safety_stock_explanation: str

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved - self.safety_stock, 0)

    @property
    def safety_stock_deducted(self) -> int:
        return min(self.safety_stock, max(self.on_hand - self.reserved, 0))


@dataclass(frozen=True)
class PoolAvailability:
    product_id: int
    physical: int
    reserved: int
    location_safety_stock: int
    available: int
    pool_buffer: int
    extra_buffer: int
    virtual: int

    @property
    def atp(self) -> int:
        return max(self.available - self.extra_buffer, 0)


@dataclass(frozen=True)
class ScarcityInput:
    product_id: int
    pool_atp: int
    threshold: int

    @property
    def is_scarce(self) -> bool:
        return self.threshold > 0 and self.pool_atp < self.threshold


def _location_policy(field_name: str) -> Subquery:
    return Subquery(
        SafetyStockPolicy.objects.filter(
            scope=SafetyStockScope.LOCATION, product_id=OuterRef("product_id"), location_id=OuterRef("location_id")
        ).values(field_name)[:1]
    )


def location_availability(*, product_ids: Iterable[int], location_ids: Iterable[int] | None = None) -> list[LocationAvailability]:
    """Per stock row: on hand, reserved, the location safety stock and the policy that set it. One query."""
    qs = StockLevel.objects.filter(product_id__in=list(product_ids))
    if location_ids is not None:
        qs = qs.filter(location_id__in=list(location_ids))
    rows = qs.annotate(
        ss=_location_policy("effective_quantity"), ss_id=_location_policy("id"), ss_why=_location_policy("explanation")
    ).order_by("product_id", "location_id").values_list("product_id", "location_id", "on_hand", "reserved", "ss", "ss_id", "ss_why")
    return [
        LocationAvailability(product_id=p, location_id=loc, on_hand=oh, reserved=res, safety_stock=ss or 0,
                             safety_stock_policy_id=sid, safety_stock_explanation=why or "")
        for p, loc, oh, res, ss, sid, why in rows
    ]


def reservable_floor_by_level(*, level_ids: Iterable[int]) -> dict[int, int]:
    """{stock level id: location safety stock} (only rows with a floor) for ``reservations_create``."""
    rows = (
        StockLevel.objects.filter(pk__in=list(level_ids)).annotate(ss=_location_policy("effective_quantity"))
        .filter(ss__gt=0).values_list("pk", "ss")
    )
    return dict(rows)


def channel_location_available(*, channel: Channel, product_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """{product id: {location id: available}} over the channel's visible own locations and, for
    drop-ship channels, the supplier locations. Only locations with something available appear."""
    ctx = channel_contexts(channels=[channel])[channel.pk]
    locations = set(ctx.visible_pct) | set(ctx.supplier_pct)
    out: dict[int, dict[int, int]] = defaultdict(dict)
    for row in location_availability(product_ids=product_ids, location_ids=locations):
        if row.available > 0:
            out[row.product_id][row.location_id] = row.available
    return dict(out)


def pool_availability(*, product_ids: Iterable[int] | None) -> dict[int, PoolAvailability]:
    """Total pool per SKU (every active location), in one query."""
    ids = None if product_ids is None else sorted({int(i) for i in product_ids})
    great, least = ("GREATEST", "LEAST") if _pg() else ("MAX", "MIN")
    params: list = [LocationKind.SUPPLIER.value, True]
    flt = _product_filter("sl.product_id", ids, params)
    sql = f"""
    WITH lv AS (
        SELECT sl.product_id, loc.kind = %s AS is_supplier, sl.on_hand, sl.reserved,
               {great}(sl.on_hand - sl.reserved - COALESCE(ss.effective_quantity, 0), 0) AS avail,
               {least}(COALESCE(ss.effective_quantity, 0), {great}(sl.on_hand - sl.reserved, 0)) AS ss_used
        FROM inventory_stocklevel sl JOIN inventory_location loc ON loc.id = sl.location_id AND loc.is_active = %s
        LEFT JOIN allocation_safetystockpolicy ss ON ss.scope = 'location' AND ss.product_id = sl.product_id
             AND ss.location_id = sl.location_id
        WHERE {flt})
    SELECT lv.product_id,
           SUM(CASE WHEN is_supplier THEN 0 ELSE on_hand END), SUM(CASE WHEN is_supplier THEN 0 ELSE reserved END),
           SUM(CASE WHEN is_supplier THEN 0 ELSE ss_used END), SUM(CASE WHEN is_supplier THEN 0 ELSE avail END),
           MAX(pp.effective_quantity), SUM(CASE WHEN is_supplier THEN avail ELSE 0 END)
    FROM lv LEFT JOIN allocation_safetystockpolicy pp ON pp.scope = 'pool' AND pp.product_id = lv.product_id
    GROUP BY lv.product_id"""
    with connection.cursor() as cursor:
        _execute(cursor, sql, params, ids)
        rows = cursor.fetchall()
    out = {}
    for pid, physical, reserved, ss_used, avail, pool_buf, virtual in rows:
        pool_buf = int(pool_buf or 0)
        out[int(pid)] = PoolAvailability(
            product_id=int(pid), physical=int(physical), reserved=int(reserved), location_safety_stock=int(ss_used),
            available=int(avail), pool_buffer=pool_buf, extra_buffer=max(pool_buf - int(ss_used), 0), virtual=int(virtual),
        )
    return out


def scarcity_inputs(*, channel: Channel, product_ids: Iterable[int]) -> dict[int, ScarcityInput]:
    """Pool ATP vs the channel's scarcity threshold, per SKU (scarce: priority rules decide)."""
    ids = list(product_ids)
    pools = pool_availability(product_ids=ids)
    return {
        pid: ScarcityInput(product_id=pid, pool_atp=pools[pid].atp if pid in pools else 0, threshold=channel.scarcity_threshold)
        for pid in ids
    }
