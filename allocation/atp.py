"""Availability layers, set-based in SQL (one query per channel for any number of SKUs).

Layers (see ``allocation/safety.py`` for safety-stock precedence):

- physical = ``on_hand``
- available(location) = ``max(on_hand − reserved − location safety stock, 0)``
- ATP(channel, SKU) = ``max(A − H − B − Q + V − L, 0)`` where
  - A = Σ available over the active, non-supplier locations the channel sees;
  - H = accuracy haircut (switch ``channel.accuracy_haircut_enabled``): at a location whose stock
    accuracy over the last ``ACCURACY_DAYS`` days of cycle counts (share of counts without variance,
    materialized every 15 minutes by ``allocation.accuracy.location_accuracy_refresh``) is below ``channel.accuracy_threshold_percent``, only ``floor(available × (100 − haircut%) / 100)``
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
  ``channel.scarcity_threshold``) for shortage decisions.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from inventory.models import LocationKind, MovementReason, StockLevel

from .accuracy import ACCURACY_DAYS  # noqa: F401  (re-exported: the window the haircut reads)
from .models import Channel, ChannelVisibility, LocationGroup, SyncMode
from .models_safety import LocationAccuracyStat, SafetyStockPolicy, SafetyStockScope

VELOCITY_DAYS = 28


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


# --------------------------------------------------------------------------------------------
# The ATP query
# --------------------------------------------------------------------------------------------


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _ints(ids: Iterable[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def _values(name: str, columns: Sequence[str], rows: Sequence[Sequence[int]], params: list | None = None) -> str:
    """A CTE of integer rows. On PostgreSQL (with ``params``) one ``unnest`` of arrays, which the
    planner handles in constant time however many rows; elsewhere a VALUES list."""
    if not rows:
        nulls = ", ".join(f"CAST(NULL AS BIGINT) AS {c}" for c in columns)
        return f"{name} AS (SELECT {nulls} WHERE 1 = 0)"
    if params is not None and _pg():
        arrays = ", ".join(
            _pg_array((row[i] for row in rows), "bigint" if col.endswith("_id") else "int") for i, col in enumerate(columns)
        )
        return f"{name} AS (SELECT * FROM unnest({arrays}) AS t({', '.join(columns)}))"
    body = ", ".join("(" + ", ".join(str(int(v)) for v in row) + ")" for row in rows)
    return f"{name}({', '.join(columns)}) AS (VALUES {body})"


def _pg_array(ids: Iterable[int], kind: str = "bigint") -> str:
    """An integer array as one SQL constant (ints only, so nothing to escape); cheaper to send and
    to plan than a bound list."""
    return "'{" + ",".join(str(int(i)) for i in ids) + "}'::" + kind + "[]"


_PIDS = "__OMNI_PRODUCT_IDS__"


def _product_filter(column: str, product_ids: list[int] | None, params: list) -> str:
    if product_ids is None:
        return "1 = 1"
    if _pg():
        return f"{column} = ANY({_PIDS})"  # filled in by _execute: a literal array, or $1 of a prepared statement
    return f"{column} IN ({_ints(product_ids)})"


def _atp_query(contexts: Sequence[ChannelContext], product_ids: list[int] | None, now: datetime) -> tuple[str, list]:
    """One statement for every (channel, SKU) pair.

    The stock rows are read ONCE: each is joined to a small per-location table (``locs``: for every
    channel i whether it sees the location and the percent that counts there, for every quota channel
    j whether j sees it) and aggregated per SKU with conditional sums. Buffers, virtual stock and the
    lag buffer come from their own small aggregates; everything is added up in one GROUP BY."""
    great, least = ("GREATEST", "LEAST") if _pg() else ("MAX", "MIN")
    params: list = []
    ctes: list[str] = []
    parts: list[str] = []
    channel_ids = [c.channel.pk for c in contexts]
    quota_locs: dict[int, frozenset[int]] = {}
    for c in contexts:
        quota_locs.update(c.quota_others)
    quotas = sorted(quota_locs)
    locations: set[int] = set()
    for c in contexts:
        locations |= set(c.own_location_ids if quotas else c.visible_pct)
    loc_ids = sorted(locations)
    policy_join = (
        "LEFT JOIN allocation_safetystockpolicy ss ON ss.scope = 'location' "
        "AND ss.product_id = sl.product_id AND ss.location_id = sl.location_id"
    )
    ctes.append(_values("chans", ["channel_id"], [(i,) for i in channel_ids]))
    columns = ["location_id"] + [f"{k}{i}" for i in range(len(contexts)) for k in ("v", "p")] + [f"q{j}" for j in range(len(quotas))]
    rows = [
        [loc]
        + [x for c in contexts for x in ((1, c.visible_pct[loc]) if loc in c.visible_pct else (0, 100))]
        + [1 if loc in quota_locs[q] else 0 for q in quotas]
        for loc in loc_ids
    ]
    ctes.append(_values("locs", columns, rows, params))
    sums = ["SUM(x.avail) AS pool"]
    for i in range(len(contexts)):
        sums += [f"SUM(x.avail * l.v{i}) AS a{i}", f"SUM((x.avail - x.avail * l.p{i} / 100) * l.v{i}) AS h{i}",
                 f"SUM(x.ss_used * l.v{i}) AS s{i}"]
    for j, q in enumerate(quotas):
        sums.append(f"SUM(x.avail * l.q{j}) AS qa{j}")
        sums += [f"SUM(x.avail * l.q{j} * (1 - l.v{i})) AS qo{i}_{j}" for i, c in enumerate(contexts) if c.channel.pk != q]
    ctes.append(
        f"""agg AS (
        SELECT x.product_id, {", ".join(sums)}
        FROM (SELECT sl.product_id, sl.location_id,
                     {great}(sl.on_hand - sl.reserved - COALESCE(ss.effective_quantity, 0), 0) AS avail,
                     {least}(COALESCE(ss.effective_quantity, 0), {great}(sl.on_hand - sl.reserved, 0)) AS ss_used
              FROM inventory_stocklevel sl {policy_join}
              WHERE sl.location_id IN ({_ints(loc_ids)}) AND {_product_filter("sl.product_id", product_ids, params)}) x
        JOIN locs l ON l.location_id = x.location_id
        GROUP BY x.product_id)"""
    )
    if quotas:
        params.append(True)
        ctes.append(
            f"""qbp AS (
            SELECT channel_id, product_id, CAST(ROUND(min_share_percent * 100) AS INTEGER) AS bp
            FROM allocation_channelquota WHERE is_active = %s AND channel_id IN ({_ints(quotas)}))"""
        )
        joins = " ".join(
            f"LEFT JOIN qbp ps{j} ON ps{j}.channel_id = {int(q)} AND ps{j}.product_id = agg.product_id "
            f"LEFT JOIN qbp ds{j} ON ds{j}.channel_id = {int(q)} AND ds{j}.product_id IS NULL"
            for j, q in enumerate(quotas)
        )
        bps = ", ".join(f"COALESCE(ps{j}.bp, ds{j}.bp, 0) AS bp{j}" for j in range(len(quotas)))
        ctes.append(f"aggq AS (SELECT agg.*, {bps} FROM agg {joins})")
        source = "aggq"
    else:
        source = "agg"
    for i, c in enumerate(contexts):
        quota = " + ".join(
            f"{great}({least}((pool * bp{j} + 9999) / 10000, qa{j}) - qo{i}_{j}, 0)"
            for j, q in enumerate(quotas) if q != c.channel.pk
        ) or "0"
        parts.append(
            f"SELECT {int(c.channel.pk)} AS channel_id, product_id, a{i} AS avail, h{i} AS haircut, s{i} AS ss_used, "
            f"CAST(NULL AS BIGINT) AS ch_buf, CAST(NULL AS BIGINT) AS pool_buf, {quota} AS quota, 0 AS virtual, 0 AS sold "
            f"FROM {source}"
        )
    ctes.append(
        f"""buf AS (
        SELECT product_id, channel_id, effective_quantity
        FROM allocation_safetystockpolicy
        WHERE (scope = 'pool' OR (scope = 'channel' AND channel_id IN ({_ints(channel_ids)})))
          AND {_product_filter("product_id", product_ids, params)})"""
    )
    parts += [
        "SELECT channel_id, product_id, 0, 0, 0, effective_quantity, NULL, 0, 0, 0 FROM buf WHERE channel_id IS NOT NULL",
        "SELECT chans.channel_id, buf.product_id, 0, 0, 0, NULL, buf.effective_quantity, 0, 0, 0 FROM buf CROSS JOIN chans "
        "WHERE buf.channel_id IS NULL",
    ]
    sup = [(c.channel.pk, loc, pct) for c in contexts for loc, pct in sorted(c.supplier_pct.items())]
    if sup:
        ctes.append(_values("sup", ["channel_id", "location_id", "pct"], sup, params))
        ctes.append(
            f"""virt AS (
            SELECT sup.channel_id, sl.product_id,
                   SUM({great}(sl.on_hand - sl.reserved - COALESCE(ss.effective_quantity, 0), 0) * sup.pct / 100) AS virtual
            FROM inventory_stocklevel sl JOIN sup ON sup.location_id = sl.location_id {policy_join}
            WHERE {_product_filter("sl.product_id", product_ids, params)}
            GROUP BY sup.channel_id, sl.product_id)"""
        )
        parts.append("SELECT channel_id, product_id, 0, 0, 0, NULL, NULL, 0, virtual, 0 FROM virt")
    lagging = [c for c in contexts if c.channel.lag_buffer_enabled and c.sync_seconds > 0]
    if lagging:
        since = connection.ops.adapt_datetimefield_value(now - timedelta(days=VELOCITY_DAYS))
        codes = [c.channel.code for c in lagging]
        ctes.append(f"lagch(channel_id, code) AS (VALUES {', '.join('(' + str(int(c.channel.pk)) + ', %s)' for c in lagging)})")
        params.extend(codes)
        demand = (
            f"m.bucket = 'on_hand' AND m.reason IN ('{MovementReason.SALE.value}', '{MovementReason.FULFILMENT.value}') "
            "AND m.created_at >= %s"
        )
        if product_ids is None or len(product_ids) > PREPARE_MAX_SKUS:
            # many SKUs: one pass over the window's movements
            params.extend(codes)
            params.append(since)
            ctes.append(
                f"""lag AS (
                SELECT lagch.channel_id, sl.product_id, SUM(-m.quantity) AS sold
                FROM inventory_stockmovement m JOIN inventory_stocklevel sl ON sl.id = m.stock_level_id
                JOIN lagch ON lagch.code = m.source
                WHERE m.source IN ({", ".join("%s" for _ in codes)}) AND {demand}
                  AND {_product_filter("sl.product_id", product_ids, params)}
                GROUP BY lagch.channel_id, sl.product_id)"""
            )
        else:
            # a few SKUs: per stock row, its movements through the (stock_level) index, whatever the plan
            params.append(since)
            ctes.append(
                f"""lag AS (
                SELECT lagch.channel_id, sl.product_id,
                       (SELECT COALESCE(SUM(-m.quantity), 0) FROM inventory_stockmovement m
                        WHERE m.stock_level_id = sl.id AND m.source = lagch.code AND {demand}) AS sold
                FROM inventory_stocklevel sl CROSS JOIN lagch
                WHERE {_product_filter("sl.product_id", product_ids, params)})"""
            )
        parts.append("SELECT channel_id, product_id, 0, 0, 0, NULL, NULL, 0, 0, sold FROM lag")
    sql = (
        "WITH " + ",\n".join(ctes) + """
        SELECT u.channel_id, u.product_id, CAST(SUM(u.avail) AS BIGINT), CAST(SUM(u.haircut) AS BIGINT),
               CAST(SUM(u.ss_used) AS BIGINT), MAX(u.ch_buf), MAX(u.pool_buf), CAST(SUM(u.quota) AS BIGINT),
               CAST(SUM(u.virtual) AS BIGINT), CAST(SUM(u.sold) AS BIGINT)
        FROM (""" + "\n UNION ALL ".join(parts) + """) u
        GROUP BY u.channel_id, u.product_id"""
    )
    return sql, params


PREPARE_MAX_SKUS = 200
_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _execute(cursor, sql: str, params: list, product_ids: list[int] | None) -> None:
    """Run an ATP statement. On PostgreSQL an API-sized request (≤ PREPARE_MAX_SKUS SKUs) runs as a
    named prepared statement of this connection with a generic plan, the SKU array being its only
    varying input: the statement text depends only on the channels' context, so planning (most of a
    one-SKU request's cost, since Django binds parameters client-side) is done once per connection
    and context, not per call. Bigger requests (the snapshot) are planned for their actual input.
    (Prepared statements live in the database session: this assumes direct connections, not a
    transaction-pooling proxy such as PgBouncer in transaction mode.)"""
    if not _pg() or product_ids is None:
        cursor.execute(sql.replace(_PIDS, _pg_array(product_ids or [])), params)
        return
    if len(product_ids) > PREPARE_MAX_SKUS:
        cursor.execute(sql.replace(_PIDS, _pg_array(product_ids)), params)
        return
    _execute_prepared(cursor, sql, params, product_ids=product_ids)


def _execute_prepared(cursor, sql: str, params: list, product_ids: list[int] | None = None) -> None:
    """Execute ``sql`` (``%s`` placeholders; with ``product_ids``, every _PIDS marker is the one array
    parameter $1) as a named prepared statement of this connection."""
    raw = getattr(connection, "connection", None)
    if product_ids is not None:
        params = [product_ids, *params]
    if raw is None:  # no live connection object to remember statements on: run it plainly
        text = sql if product_ids is None else sql.replace(_PIDS, _pg_array(product_ids))
        cursor.execute(text, params if product_ids is None else params[1:])
        return
    names = _PREPARED.setdefault(raw, set())
    name = "omni_atp_" + hashlib.sha1(sql.encode()).hexdigest()[:24]
    if name not in names:
        if len(names) >= 64:
            cursor.execute("DEALLOCATE ALL")
            names.clear()
        first = 2 if product_ids is not None else 1
        numbered = iter(range(first, len(params) + 1))
        body = re.sub(r"%s", lambda _: f"${next(numbered)}", sql).replace(_PIDS, "$1::bigint[]")
        # Only these statements are prepared on a Django connection (it binds client-side), so the
        # session setting affects nothing else. (Inside a transaction that rolls back, the SET is undone
        # while the statement stays: then it is merely planned per call again.)
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE {name} AS {body}")
        names.add(name)
    cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params)


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
