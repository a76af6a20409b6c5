"""Availability layers, set-based in SQL: one query for any number of channels and SKUs
(the statement itself is built in ``allocation/atp_sql.py``).

Layers (see ``allocation/safety.py`` for safety-stock precedence):

- physical = ``on_hand``
- available(location) = ``max(on_hand − reserved − location safety stock, 0)``
- ATP(channel, SKU) = ``max(A − H − B − Q + V − L, 0)`` where
  - A = Σ available over the active, non-supplier locations the channel sees;
  - H = accuracy haircut (switch ``channel.accuracy_haircut_enabled``): at a location whose stock
    accuracy over the last ``ACCURACY_DAYS`` days of cycle counts (share of counts without variance,
    materialized every 15 minutes by ``allocation.accuracy.location_accuracy_refresh``) is below
    ``channel.accuracy_threshold_percent``, only ``floor(available × (100 − haircut%) / 100)``
    counts; H is the sum of what is discounted;
  - B = the extra SKU buffer: ``max(buffer − Σ location safety stock deducted at visible
    locations, 0)`` with buffer = the SKU × channel policy, else the SKU pool policy, else 0;
  - Q = quota protection for every *other* active channel q with a quota for the SKU (its
    SKU-specific quota, else its default): ``max(min(ceil(pool × share_q / 100), avail_q) −
    avail_q_only, 0)``, pool = Σ available over every active non-supplier location, avail_q = Σ over
    the locations q sees, avail_q_only = Σ over those the channel does not see (q's protection is
    taken there first);
  - V = virtual stock: Σ available at active supplier locations when ``channel.allows_dropship``
    (haircut applies to them too); supplier locations never count in A;
  - L = lag-aware buffer (switch ``channel.lag_buffer_enabled``): ``ceil(sold × T / (VELOCITY_DAYS ×
    86400))`` where sold = the SKU's SALE + FULFILMENT units with ``movement.source == channel.code``
    over the last ``VELOCITY_DAYS`` days and T the channel's sync period in seconds (batch: interval,
    near-real-time: coalescing window, real-time: 0).
- pool(SKU) = ``max(Σ available over every active non-supplier location − pool buffer extra, 0)``.

Selectors for other apps:

- ``atp_components(channel=, product_ids=)`` / ``atp_for_channel`` (ATP figures);
- ``availability_for_channels(channels=, product_ids=)`` (API level: many channels, one context load);
- ``location_availability(product_ids=, location_ids=)`` (per-location layers, with the policy);
- ``reservable_floor_by_level(level_ids=)``: ``{stock level id: safety-stock floor}`` to pass to
  ``inventory.services.reservations_create(floor_by_level=...)`` so a reservation never eats into
  location safety stock;
- ``channel_location_available(channel=, product_ids=)``: ``{product: {location: available}}`` over
  the channel's visible (and, for drop-ship channels, supplier) locations, for routing;
- ``pool_availability(product_ids=)`` and ``scarcity_inputs(channel=, product_ids=)`` (pool ATP vs
  ``channel.scarcity_threshold``); who gets scarce units is decided by the priority rules of
  ``orders.routing.scarcity``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from inventory.models import LocationKind, StockLevel

from .accuracy import ACCURACY_DAYS  # noqa: F401  (re-exported: the window the haircut reads)
from .atp_sql import PREPARE_MAX_SKUS, VELOCITY_DAYS, _atp_query, _execute, _execute_prepared, _pg, _product_filter  # noqa: F401
from .models import Channel, ChannelVisibility, LocationGroup, SyncMode
from .models_safety import LocationAccuracyStat, SafetyStockPolicy, SafetyStockScope



# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocationAccuracy:
    counts: int
    accurate: int

    @property
    def percent(self) -> Decimal:
        return (Decimal(self.accurate) * 100 / self.counts).quantize(Decimal("0.01")) if self.counts else Decimal(100)


@dataclass(frozen=True)
class ChannelContext:
    """What one channel's ATP query needs besides stock: loaded for many channels in a few queries."""

    channel: Channel
    visible_pct: dict[int, int]  # visible active own location → percent of its available that counts
    supplier_pct: dict[int, int]  # supplier locations (drop-ship channels only) → percent that counts
    quota_others: dict[int, frozenset[int]]  # other channels with an active quota → their visible own locations
    own_location_ids: frozenset[int]  # every active non-supplier location: the pool
    sync_seconds: int
    accuracy: dict[int, LocationAccuracy] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AtpComponents:
    product_id: int
    channel_id: int
    available: int
    haircut: int
    location_safety_stock: int
    buffer: int
    buffer_source: str
    extra_buffer: int
    quota: int
    virtual: int
    sold_in_window: int
    lag_buffer: int
    atp: int


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


# --------------------------------------------------------------------------------------------
# Context: visibility, accuracy, quotas (a handful of small queries for any number of channels)
# --------------------------------------------------------------------------------------------


def sync_period_seconds(channel: Channel) -> int:
    if channel.sync_mode == SyncMode.BATCH:
        return channel.sync_interval_seconds
    if channel.sync_mode == SyncMode.NEAR_REALTIME:
        return channel.sync_window_seconds
    return 0


def location_accuracy(*, now: datetime | None = None, location_ids: Iterable[int] | None = None) -> dict[int, LocationAccuracy]:
    """Stock accuracy per location as last materialized by ``allocation.accuracy.location_accuracy_refresh``
    (counts without variance / counts over the last ACCURACY_DAYS days)."""
    qs = LocationAccuracyStat.objects.all()
    if location_ids is not None:
        qs = qs.filter(location_id__in=list(location_ids))
    return {loc: LocationAccuracy(counts=n, accurate=ok) for loc, n, ok in qs.values_list("location_id", "counts", "accurate")}


def visible_location_ids_by_channel(*, channel_ids: Iterable[int] | None = None) -> dict[int, set[int]]:
    """{channel id: ids of the locations its visibility rules name, directly or through a group}."""
    rules = ChannelVisibility.objects.all()
    if channel_ids is not None:
        rules = rules.filter(channel_id__in=list(channel_ids))
    rules = list(rules.values_list("channel_id", "location_id", "group_id"))
    group_ids = {g for _, _, g in rules if g}
    members: dict[int, set[int]] = defaultdict(set)
    if group_ids:
        through = LocationGroup.locations.through
        for gid, lid in through.objects.filter(locationgroup_id__in=group_ids).values_list("locationgroup_id", "location_id"):
            members[gid].add(lid)
    out: dict[int, set[int]] = defaultdict(set)
    for cid, lid, gid in rules:
        if lid:
            out[cid].add(lid)
        else:
            out[cid] |= members[gid]
    return out


def _context_rows(*, with_accuracy: bool) -> list[tuple]:
    """Locations, quota channels, visibility (groups expanded) and accuracy in ONE round trip."""
    members = LocationGroup.locations.through._meta.db_table
    accuracy = (
        " UNION ALL SELECT 'A', location_id, CAST(counts AS BIGINT), CAST(accurate AS BIGINT), NULL "
        "FROM allocation_locationaccuracystat" if with_accuracy else ""
    )
    sql = f"""
        SELECT 'L', id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), kind FROM inventory_location WHERE is_active = %s
        UNION ALL
        SELECT DISTINCT 'Q', q.channel_id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), NULL
        FROM allocation_channelquota q JOIN allocation_channel c ON c.id = q.channel_id
        WHERE q.is_active = %s AND c.is_active = %s
        UNION ALL
        SELECT 'V', r.channel_id, COALESCE(r.location_id, m.location_id), CAST(NULL AS BIGINT), NULL
        FROM allocation_channelvisibility r LEFT JOIN {members} m ON m.locationgroup_id = r.group_id{accuracy}"""
    with connection.cursor() as cursor:
        if _pg():
            _execute_prepared(cursor, sql, [True, True, True])
        else:
            cursor.execute(sql, [True, True, True])
        return cursor.fetchall()


def channel_contexts(*, channels: Sequence[Channel], now: datetime | None = None) -> dict[int, ChannelContext]:
    """What the ATP query needs for these channels, from one query (see ``_context_rows``)."""
    kinds: dict[int, str] = {}
    quota_channels: set[int] = set()
    visible: dict[int, set[int]] = defaultdict(set)
    accuracy: dict[int, LocationAccuracy] = {}
    for tag, a, b, c, d in _context_rows(with_accuracy=any(ch.accuracy_haircut_enabled for ch in channels)):
        if tag == "L":
            kinds[int(a)] = d
        elif tag == "Q":
            quota_channels.add(int(a))
        elif tag == "V" and b is not None:
            visible[int(a)].add(int(b))
        elif tag == "A":
            accuracy[int(a)] = LocationAccuracy(counts=int(b), accurate=int(c))
    own = frozenset(i for i, k in kinds.items() if k != LocationKind.SUPPLIER)
    suppliers = sorted(i for i, k in kinds.items() if k == LocationKind.SUPPLIER)
    contexts = {}
    for channel in channels:
        def pct(location_id: int, channel: Channel = channel) -> int:
            acc = accuracy.get(location_id)
            if channel.accuracy_haircut_enabled and acc and acc.percent < channel.accuracy_threshold_percent:
                return 100 - channel.accuracy_haircut_percent
            return 100

        mine = visible.get(channel.pk, set()) & own
        contexts[channel.pk] = ChannelContext(
            channel=channel,
            visible_pct={i: pct(i) for i in sorted(mine)} if channel.is_active else {},
            supplier_pct={i: pct(i) for i in suppliers} if channel.allows_dropship and channel.is_active else {},
            quota_others={q: frozenset(visible.get(q, set()) & own) for q in sorted(quota_channels) if q != channel.pk},
            own_location_ids=own,
            sync_seconds=sync_period_seconds(channel),
            accuracy=accuracy,
        )
    return contexts


def _combine(ctx: ChannelContext, row: Sequence) -> AtpComponents:
    _, pid, avail, haircut, ss_used, ch_buf, pool_buf, quota, virtual, sold = row
    avail, haircut, ss_used, quota, virtual, sold = (int(v) for v in (avail, haircut, ss_used, quota, virtual, sold))
    if ch_buf is not None:
        buffer, source = int(ch_buf), "channel"
    elif pool_buf is not None:
        buffer, source = int(pool_buf), "pool"
    else:
        buffer, source = 0, ""
    extra = max(buffer - ss_used, 0)
    lag = 0
    if sold > 0 and ctx.channel.lag_buffer_enabled and ctx.sync_seconds > 0:
        window = VELOCITY_DAYS * 86400
        lag = (sold * ctx.sync_seconds + window - 1) // window
    atp = max(avail - haircut - extra - quota + virtual - lag, 0)
    return AtpComponents(
        product_id=int(pid), channel_id=ctx.channel.pk, available=avail, haircut=haircut, location_safety_stock=ss_used,
        buffer=buffer, buffer_source=source, extra_buffer=extra, quota=quota, virtual=virtual, sold_in_window=sold,
        lag_buffer=lag, atp=atp,
    )


def atp_components_for_contexts(*, contexts: Sequence[ChannelContext], product_ids: Iterable[int] | None,
                                now: datetime | None = None) -> dict[int, dict[int, AtpComponents]]:
    """{channel id: {product id: components}} for these channels, in ONE SQL query.
    ``product_ids=None``: every SKU that has stock or a buffer policy in reach (others: ATP 0)."""
    ids = None if product_ids is None else sorted({int(i) for i in product_ids})
    out: dict[int, dict[int, AtpComponents]] = {c.channel.pk: {} for c in contexts}
    if (ids is not None and not ids) or not contexts:
        return out
    sql, params = _atp_query(contexts, ids, now or timezone.now())
    by_id = {c.channel.pk: c for c in contexts}
    with connection.cursor() as cursor:
        _execute(cursor, sql, params, ids)
        for row in cursor.fetchall():
            comp = _combine(by_id[int(row[0])], row)
            out[comp.channel_id][comp.product_id] = comp
    if ids is not None:  # SKUs with neither stock nor policy in reach: every component 0
        zero = (0, 0, 0, None, None, 0, 0, 0)
        for ctx in contexts:
            for pid in ids:
                if pid not in out[ctx.channel.pk]:
                    out[ctx.channel.pk][pid] = _combine(ctx, (ctx.channel.pk, pid, *zero))
    return out


def atp_components_for_context(*, ctx: ChannelContext, product_ids: Iterable[int] | None, now: datetime | None = None) -> dict[int, AtpComponents]:
    """Every ATP component per SKU for one channel, in one SQL query. ``product_ids=None``: every SKU."""
    return atp_components_for_contexts(contexts=[ctx], product_ids=product_ids, now=now)[ctx.channel.pk]


def atp_components(*, channel: Channel, product_ids: Iterable[int] | None, now: datetime | None = None) -> dict[int, AtpComponents]:
    now = now or timezone.now()
    ctx = channel_contexts(channels=[channel], now=now)[channel.pk]
    return atp_components_for_context(ctx=ctx, product_ids=product_ids, now=now)


def atp_for_channel(*, channel: Channel, product_ids: Iterable[int]) -> dict[int, int]:
    """{product id: ATP} for one channel. Every requested id is present (unknown ids: 0)."""
    product_ids = list(product_ids)
    result = dict.fromkeys(product_ids, 0)
    for pid, comp in atp_components(channel=channel, product_ids=product_ids).items():
        result[pid] = comp.atp
    return result


def availability_for_channels(*, channels: Sequence[Channel], product_ids: Iterable[int], now: datetime | None = None
                              ) -> dict[int, dict[int, AtpComponents]]:
    """{channel id: {product id: components}}: the API-level selector. Two round trips whatever the
    number of channels and SKUs: the context, then one ATP query."""
    now = now or timezone.now()
    contexts = channel_contexts(channels=channels, now=now)
    return atp_components_for_contexts(contexts=[contexts[c.pk] for c in channels], product_ids=product_ids, now=now)


# --------------------------------------------------------------------------------------------
# Per location, pool, floors, scarcity
# --------------------------------------------------------------------------------------------


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
