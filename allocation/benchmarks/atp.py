"""``python manage.py bench atp [--json] [--skus N] [--sample N]`` (PostgreSQL).

Builds, in its scratch database, N SKUs × 50 locations × 5 channels with bulk ``INSERT … SELECT
generate_series``: 1 DC, 3 warehouses, 1 3PL, 44 stores, 1 drop-ship supplier; location safety
stock on ~10 % of stock rows, pool policies on 20 % and channel policies on 10 % of SKUs; a 30 %
store quota for POS; cycle counts making 5 stores inaccurate; ~4 SALE movements per SKU for the lag
buffer.

Measures, in the same run:
- ``snapshot_seconds``: full ATP of every SKU for the web channel (every refinement on: visible
  over 49 locations, quota of POS, drop-ship virtual stock, lag buffer, accuracy haircut) — one SQL
  query (median of 3 after a warm-up);
- ``single_sku_p50_ms`` / ``single_sku_p95_ms``: one SKU for all 5 channels through the API-level
  selector (``availability_for_channels``), 200 random SKUs;
- the baseline: the best per-SKU approach — ONE aggregate query per SKU computing the same figure
  (``per_sku_atp``: a prepared statement with a generic plan, the SKU its parameter; the channel's
  visibility, haircuts and quota channels loaded once, as any engineer would) over every SKU
  (``--sample 0``, the default) or a random sample (then scaled, and said so); each figure it
  computes is checked equal to the snapshot's. ``ratio`` = baseline seconds / snapshot seconds.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from omni.benchmarks.measure import load_average, percentile

NAME = "atp"
HELP = "ATP snapshot and single-SKU latency vs one aggregate query per SKU (PostgreSQL)."
REQUIRES = ("postgresql",)

TAG = "BATP"
N_LOCATIONS = 50


def add_arguments(parser) -> None:
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=0, help="SKUs the per-SKU baseline computes (0: every SKU)")


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _build(skus: int, out: Callable[[str], None]) -> None:
    from allocation.models import Channel, ChannelKind, ChannelQuota, ChannelVisibility, LocationGroup, SyncMode
    from inventory.models import Location, LocationKind

    started = time.perf_counter()
    rng = random.Random(7)
    kinds = [LocationKind.DC] + [LocationKind.WAREHOUSE] * 3 + [LocationKind.THREE_PL] + [LocationKind.STORE] * 44 + [LocationKind.SUPPLIER]
    locations = Location.objects.bulk_create([
        Location(code=f"{TAG}-L{i:02d}", name=f"Bench location {i}", kind=kind, latitude=41 + rng.uniform(-1, 1),
                 longitude=29 + rng.uniform(-1, 1), can_pickup=kind == LocationKind.STORE)
        for i, kind in enumerate(kinds)
    ])
    by_kind: dict[str, list[Location]] = {}
    for loc in locations:
        by_kind.setdefault(loc.kind, []).append(loc)
    stores = LocationGroup.objects.create(code=f"{TAG.lower()}-stores", name="Bench stores")
    stores.locations.set(by_kind[LocationKind.STORE])
    chans = {
        "web": Channel.objects.create(code=f"{TAG.lower()}-web", name="Bench web", kind=ChannelKind.WEBSHOP, allows_dropship=True,
                                      lag_buffer_enabled=True, accuracy_haircut_enabled=True, sync_mode=SyncMode.BATCH,
                                      sync_interval_seconds=900),
        "market": Channel.objects.create(code=f"{TAG.lower()}-market", name="Bench market", kind=ChannelKind.MARKETPLACE,
                                         lag_buffer_enabled=True, sync_mode=SyncMode.BATCH, sync_interval_seconds=3600),
        "pos": Channel.objects.create(code=f"{TAG.lower()}-pos", name="Bench POS", kind=ChannelKind.POS, sync_mode=SyncMode.REALTIME),
        "app": Channel.objects.create(code=f"{TAG.lower()}-app", name="Bench app", kind=ChannelKind.APP, accuracy_haircut_enabled=True),
        "b2b": Channel.objects.create(code=f"{TAG.lower()}-b2b", name="Bench B2B", kind=ChannelKind.B2B),
    }
    warehouses = by_kind[LocationKind.DC] + by_kind[LocationKind.WAREHOUSE]
    rules = [ChannelVisibility(channel=chans["web"], group=stores), ChannelVisibility(channel=chans["app"], group=stores),
             ChannelVisibility(channel=chans["pos"], group=stores)]
    for loc in warehouses + by_kind[LocationKind.THREE_PL]:
        rules += [ChannelVisibility(channel=chans["web"], location=loc), ChannelVisibility(channel=chans["app"], location=loc),
                  ChannelVisibility(channel=chans["market"], location=loc)]
    rules += [ChannelVisibility(channel=chans["b2b"], location=loc) for loc in warehouses]
    rules += [ChannelVisibility(channel=chans["pos"], location=by_kind[LocationKind.DC][0])]
    ChannelVisibility.objects.bulk_create(rules)
    ChannelQuota.objects.create(channel=chans["pos"], min_share_percent=30)
    loc_ids = [loc.pk for loc in locations]
    store_ids = [loc.pk for loc in by_kind[LocationKind.STORE]]
    web, market = chans["web"].code, chans["market"].code
    with connection.cursor() as c:
        c.execute(f"""
            INSERT INTO inventory_product (sku, name, barcode, velocity_class, unit_cost, price, lead_time_days, season,
                                           end_of_season, launched_on, is_active, created_at)
            SELECT '{TAG}-' || lpad(g::text, 6, '0'), 'Bench product ' || g, '', (ARRAY['A','B','C'])[1 + g %% 3], 10, 25,
                   7, '', NULL, NULL, TRUE, now()
            FROM generate_series(1, %s) g""", [skus])
        c.execute(f"""
            INSERT INTO inventory_stocklevel (product_id, location_id, on_hand, reserved, damaged, quarantine, updated_at)
            SELECT p.id, l.id, x.on_hand, (x.on_hand * ((p.id + l.id) %% 3)) / 10, 0, 0, now()
            FROM inventory_product p
            CROSS JOIN unnest(%s::bigint[]) AS l(id)
            CROSS JOIN LATERAL (SELECT ((p.id * 7919 + l.id * 104729) %% 23)::int AS on_hand) x
            WHERE p.sku LIKE '{TAG}-%%'""", [loc_ids])
        c.execute(f"""
            INSERT INTO allocation_safetystockpolicy (product_id, scope, location_id, channel_id, method, quantity, service_level,
                   lead_time_days, demand_sigma, demand_days, computed_quantity, override_quantity, effective_quantity,
                   explanation, computed_at, updated_at, updated_by_id)
            SELECT sl.product_id, 'location', sl.location_id, NULL, 'static', 1 + sl.id %% 3, 95, NULL, NULL, 0, NULL, NULL,
                   1 + sl.id %% 3, 'static ' || (1 + sl.id %% 3), NULL, now(), NULL
            FROM inventory_stocklevel sl JOIN inventory_product p ON p.id = sl.product_id
            WHERE p.sku LIKE '{TAG}-%%' AND sl.id %% 10 = 0""", [])
        c.execute(f"""
            INSERT INTO allocation_safetystockpolicy (product_id, scope, location_id, channel_id, method, quantity, service_level,
                   lead_time_days, demand_sigma, demand_days, computed_quantity, override_quantity, effective_quantity,
                   explanation, computed_at, updated_at, updated_by_id)
            SELECT p.id, 'pool', NULL, NULL, 'static', 20, 95, NULL, NULL, 0, NULL, NULL, 20, 'static 20', NULL, now(), NULL
            FROM inventory_product p WHERE p.sku LIKE '{TAG}-%%' AND p.id %% 5 = 0""", [])
        c.execute(f"""
            INSERT INTO allocation_safetystockpolicy (product_id, scope, location_id, channel_id, method, quantity, service_level,
                   lead_time_days, demand_sigma, demand_days, computed_quantity, override_quantity, effective_quantity,
                   explanation, computed_at, updated_at, updated_by_id)
            SELECT p.id, 'channel', NULL, %s, 'static', 30, 95, NULL, NULL, 0, NULL, NULL, 30, 'static 30', NULL, now(), NULL
            FROM inventory_product p WHERE p.sku LIKE '{TAG}-%%' AND p.id %% 10 = 3""", [chans["web"].pk])
        # cycle counts: 5 stores inaccurate (1 in 3 counts off), the rest accurate
        c.execute(f"""
            INSERT INTO inventory_cyclecount (stock_level_id, counted, system_quantity, variance, counted_at, source, actor_id)
            SELECT sl.id, sl.on_hand, sl.on_hand, CASE WHEN sl.location_id = ANY(%s) AND sl.id %% 3 = 0 THEN -1 ELSE 0 END,
                   now() - interval '3 days', 'bench', NULL
            FROM inventory_stocklevel sl JOIN inventory_product p ON p.id = sl.product_id
            WHERE p.sku LIKE '{TAG}-%%' AND sl.id %% 97 = 0""", [store_ids[:5]])
        # sales history over 40 days for the lag buffer: web and market, ~4 movements per SKU
        c.execute(f"""
            INSERT INTO inventory_stockmovement (stock_level_id, bucket, reason, quantity, balance_after, source, external_id,
                   line, fingerprint, reference, note, created_at, actor_id)
            SELECT sl.id, 'on_hand', 'sale', -(1 + sl.id %% 4), sl.on_hand, CASE WHEN sl.id %% 2 = 0 THEN %s ELSE %s END, '',
                   0, '', '', '', now() - ((sl.id %% 40) || ' days')::interval, NULL
            FROM inventory_stocklevel sl JOIN inventory_product p ON p.id = sl.product_id
            WHERE p.sku LIKE '{TAG}-%%' AND sl.id %% 12 = 0""", [web, market])
        c.execute("ANALYZE inventory_product; ANALYZE inventory_stocklevel; ANALYZE allocation_safetystockpolicy; "
                  "ANALYZE inventory_stockmovement; ANALYZE inventory_cyclecount; ANALYZE inventory_location")
    from allocation.accuracy.services import location_accuracy_refresh

    crossed = location_accuracy_refresh()  # the haircut reads the materialized accuracy
    out(f"built dataset: {skus} SKUs × {N_LOCATIONS} locations × {len(chans)} channels in {time.perf_counter() - started:.1f}s "
        f"({crossed} inaccurate locations)")


# --------------------------------------------------------------------------------------------
# The baseline: one aggregate query per SKU
# --------------------------------------------------------------------------------------------


def _rows(name: str, columns: str, rows: Sequence[tuple[int, ...]]) -> str:
    """A CTE of integer rows (the channel's context: ints only, so inlined)."""
    if not rows:
        nulls = ", ".join(f"CAST(NULL AS BIGINT) AS {c.strip()}" for c in columns.split(","))
        return f"{name} AS (SELECT {nulls} WHERE 1 = 0)"
    return f"{name}({columns}) AS (VALUES {', '.join('(' + ', '.join(str(int(v)) for v in row) + ')' for row in rows)})"


def per_sku_sql(ctx) -> str:
    """One statement answering ``ATP(channel, SKU)`` for ONE SKU (``%(pid)s``), written from the
    formulas in ``allocation.selectors``' module docs, independently of the set-based query."""
    pg = connection.vendor == "postgresql"
    great, least = ("GREATEST", "LEAST") if pg else ("MAX", "MIN")
    channel = ctx.channel
    quota_rows = [(q, loc) for q, locs in sorted(ctx.quota_others.items()) for loc in sorted(locs)]
    lagging = channel.lag_buffer_enabled and ctx.sync_seconds > 0
    window = _velocity_days() * 86400
    # per stock row of the SKU, its demand movements through the (stock_level, bucket) index
    lag = (
        f"""SELECT CASE WHEN x.sold > 0 THEN (x.sold * {int(ctx.sync_seconds)} + {window - 1}) / {window} ELSE 0 END AS total
            FROM (SELECT CAST(COALESCE(SUM(
                      (SELECT COALESCE(SUM(-m.quantity), 0) FROM inventory_stockmovement m
                       WHERE m.stock_level_id = lv.id AND m.bucket = 'on_hand' AND m.source = %(code)s
                         AND m.reason IN ('sale', 'fulfilment') AND m.created_at >= %(since)s)), 0) AS BIGINT) AS sold
                  FROM lv) x"""
        if lagging else "SELECT 0 AS total"
    )
    return f"""
    WITH lv AS (
        SELECT sl.id, sl.location_id,
               {great}(sl.on_hand - sl.reserved - COALESCE(ss.effective_quantity, 0), 0) AS avail,
               {least}(COALESCE(ss.effective_quantity, 0), {great}(sl.on_hand - sl.reserved, 0)) AS ss_used
        FROM inventory_stocklevel sl
        LEFT JOIN allocation_safetystockpolicy ss
               ON ss.scope = 'location' AND ss.product_id = sl.product_id AND ss.location_id = sl.location_id
        WHERE sl.product_id = %(pid)s),
    {_rows("vis", "location_id, pct", sorted(ctx.visible_pct.items()))},
    {_rows("sup", "location_id, pct", sorted(ctx.supplier_pct.items()))},
    {_rows("own", "location_id", [(i,) for i in sorted(ctx.own_location_ids)])},
    {_rows("qloc", "channel_id, location_id", quota_rows)},
    seen AS (SELECT COALESCE(SUM(lv.avail), 0) AS a, COALESCE(SUM(lv.avail - lv.avail * vis.pct / 100), 0) AS h,
                    COALESCE(SUM(lv.ss_used), 0) AS s
             FROM lv JOIN vis ON vis.location_id = lv.location_id),
    pool AS (SELECT COALESCE(SUM(lv.avail), 0) AS total FROM lv JOIN own ON own.location_id = lv.location_id),
    q AS (SELECT qloc.channel_id, COALESCE(SUM(lv.avail), 0) AS q_avail,
                 COALESCE(SUM(CASE WHEN vis.location_id IS NULL THEN lv.avail ELSE 0 END), 0) AS q_only,
                 COALESCE((SELECT CAST(ROUND(cq.min_share_percent * 100) AS INTEGER) FROM allocation_channelquota cq
                           WHERE cq.channel_id = qloc.channel_id AND cq.product_id = %(pid)s AND cq.is_active),
                          (SELECT CAST(ROUND(cq.min_share_percent * 100) AS INTEGER) FROM allocation_channelquota cq
                           WHERE cq.channel_id = qloc.channel_id AND cq.product_id IS NULL AND cq.is_active)) AS bp
          FROM qloc LEFT JOIN lv ON lv.location_id = qloc.location_id LEFT JOIN vis ON vis.location_id = qloc.location_id
          GROUP BY qloc.channel_id),
    quota AS (SELECT CAST(COALESCE(SUM({great}({least}((pool.total * q.bp + 9999) / 10000, q.q_avail) - q.q_only, 0)), 0)
                          AS BIGINT) AS total
              FROM q CROSS JOIN pool WHERE q.bp IS NOT NULL),
    virt AS (SELECT COALESCE(SUM(lv.avail * sup.pct / 100), 0) AS total FROM lv JOIN sup ON sup.location_id = lv.location_id),
    buf AS (SELECT COALESCE(
                (SELECT MAX(effective_quantity) FROM allocation_safetystockpolicy
                 WHERE product_id = %(pid)s AND scope = 'channel' AND channel_id = {int(channel.pk)}),
                (SELECT MAX(effective_quantity) FROM allocation_safetystockpolicy WHERE product_id = %(pid)s AND scope = 'pool'),
                0) AS total),
    lag AS ({lag})
    SELECT {great}(seen.a - seen.h - {great}(buf.total - seen.s, 0) - quota.total + virt.total - lag.total, 0)
    FROM seen, quota, virt, buf, lag"""


def _velocity_days() -> int:
    from allocation.availability.sql import VELOCITY_DAYS

    return VELOCITY_DAYS


def per_sku_atp(*, ctx, product_id: int, now: datetime, sql: str | None = None, prepared: str | None = None) -> int:
    """ATP of one SKU for ``ctx``'s channel: one aggregate query, or an ``EXECUTE`` of the statement
    ``per_sku_prepare`` prepared from it (PostgreSQL)."""
    since = now - timedelta(days=_velocity_days())
    with connection.cursor() as cur:
        if prepared:
            cur.execute(f"EXECUTE {prepared}(%s, %s, %s)", [int(product_id), ctx.channel.code, since])
        else:
            cur.execute(sql or per_sku_sql(ctx), {"pid": int(product_id), "code": ctx.channel.code, "since": since})
        return int(cur.fetchone()[0])


def per_sku_prepare(sql: str) -> str:
    """PREPARE the per-SKU statement on this connection (the best per-SKU loop does not parse and plan
    the same statement for every SKU). Returns its name."""
    name = "omni_bench_atp_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
    with connection.cursor() as cur:
        cur.execute(f"PREPARE {name}(bigint, text, timestamptz) AS " + sql % {"pid": "$1", "code": "$2", "since": "$3"})
    return name


# --------------------------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------------------------


def run(*, out: Callable[[str], None], skus: int = 20_000, sample: int = 0, **_: Any) -> dict[str, Any]:
    from allocation.availability.context import channel_contexts
    from allocation.models import Channel
    from allocation.selectors import atp_components, availability_for_channels
    from inventory.models import Product

    load_before = load_average()
    with transaction.atomic():
        _build(skus, out)
    channels = list(Channel.objects.filter(code__startswith=TAG.lower()).order_by("code"))
    web = next(c for c in channels if c.code.endswith("-web"))
    product_ids = list(Product.objects.filter(sku__startswith=f"{TAG}-").order_by("id").values_list("id", flat=True))
    now = timezone.now()

    # snapshot: every SKU, one channel (all refinements), one SQL query; median of 3 after a warm-up
    atp_components(channel=web, product_ids=None, now=now)
    times = []
    for _run in range(3):
        t0 = time.perf_counter()
        snapshot = atp_components(channel=web, product_ids=None, now=now)
        times.append(time.perf_counter() - t0)
    snapshot_seconds = statistics.median(times)
    figures = {pid: (snapshot[pid].atp if pid in snapshot else 0) for pid in product_ids}
    out(f"snapshot: {len(product_ids)} SKUs for {web.code} in {snapshot_seconds:.3f}s (runs: {', '.join(f'{t:.3f}' for t in times)})")

    # single SKU, every channel, API-level selector
    rng = random.Random(11)
    for pid in rng.sample(product_ids, min(20, len(product_ids))):
        availability_for_channels(channels=channels, product_ids=[pid])
    lat = []
    for pid in rng.choices(product_ids, k=200):
        t0 = time.perf_counter()
        availability_for_channels(channels=channels, product_ids=[pid])
        lat.append((time.perf_counter() - t0) * 1000)
    p50, p95 = percentile(lat, 0.5), percentile(lat, 0.95)
    out(f"single SKU × {len(channels)} channels: p50 {p50:.2f} ms, p95 {p95:.2f} ms")

    # baseline: one aggregate query per SKU, every SKU (or a stated random sample), checked against the snapshot
    ctx = channel_contexts(channels=[web], now=now)[web.pk]
    picked = product_ids if sample <= 0 or sample >= len(product_ids) else rng.sample(product_ids, sample)
    prepared = per_sku_prepare(per_sku_sql(ctx))
    with connection.cursor() as cur:  # planned once, as the product's own single-SKU statements are
        cur.execute("SET plan_cache_mode = force_generic_plan")
    per_sku_atp(ctx=ctx, product_id=picked[0], now=now, prepared=prepared)  # plan it (as a long-lived worker would have)
    t0 = time.perf_counter()
    baseline = {pid: per_sku_atp(ctx=ctx, product_id=pid, now=now, prepared=prepared) for pid in picked}
    measured = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute(f"DEALLOCATE {prepared}")
        cur.execute("RESET plan_cache_mode")
    scope = "every SKU" if len(picked) == len(product_ids) else "random sample"
    baseline_seconds = measured * len(product_ids) / len(picked)
    mismatches = sum(1 for pid in picked if baseline[pid] != figures[pid])
    out(f"baseline, one aggregate query per SKU ({scope}): {len(picked)} SKUs in {measured:.2f}s "
        f"({measured * 1000 / len(picked):.2f} ms per SKU){'' if scope == 'every SKU' else f' → {baseline_seconds:.1f}s for all'}; "
        f"figures differing from the snapshot: {mismatches}")
    ratio = baseline_seconds / snapshot_seconds if snapshot_seconds else None
    out(f"snapshot is {ratio:.1f}× faster than the per-SKU baseline")
    return {
        "skus": len(product_ids),
        "locations": N_LOCATIONS,
        "channels": len(channels),
        "stock_rows": len(product_ids) * N_LOCATIONS,
        "snapshot_channel": web.code,
        "snapshot_seconds": round(snapshot_seconds, 3),
        "snapshot_total_atp": sum(figures.values()),
        "single_sku_p50_ms": round(p50, 2),
        "single_sku_p95_ms": round(p95, 2),
        "baseline": "one aggregate query per SKU",
        "baseline_scope": scope,
        "baseline_skus": len(picked),
        "baseline_measured_seconds": round(measured, 3),
        "baseline_per_sku_ms": round(measured * 1000 / len(picked), 3),
        "baseline_seconds": round(baseline_seconds, 2),
        "baseline_mismatches": mismatches,
        "baseline_matches_sql": mismatches == 0,
        "ratio": round(ratio, 1) if ratio else None,
        "load_avg_1m": [load_before, load_average()],
    }
