"""``python manage.py bench atp [--json] [--skus N] [--rebuild]``

Builds (once; reruns reuse it, found by its tag) a PostgreSQL dataset of N SKUs × 50 locations ×
5 channels with bulk ``INSERT … SELECT generate_series``: 1 DC, 3 warehouses, 1 3PL, 44 stores,
1 drop-ship supplier; location safety stock on ~10 % of stock rows, pool policies on 20 % and
channel policies on 10 % of SKUs; a 30 % store quota for POS; cycle counts making 5 stores
inaccurate; ~4 SALE movements per SKU for the lag buffer.

Measures, in the same run:
- ``snapshot_seconds``: full ATP of every SKU for the web channel (every refinement on: visible
  over 49 locations, quota of POS, drop-ship virtual stock, lag buffer, accuracy haircut) — one SQL
  query (median of 3);
- ``single_sku_p95_ms``: one SKU for all 5 channels through the API-level selector
  (``availability_for_channels``), 200 random SKUs;
- ``naive_seconds``: the same snapshot computed by a per-SKU ORM loop (stock rows, policies,
  quotas and sales fetched per SKU, formula in Python) on a sample, scaled to all SKUs; its figures
  are checked equal to the SQL's; ``ratio`` = naive / snapshot.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

NAME = "atp"
HELP = "ATP snapshot / single-SKU latency vs a per-SKU ORM loop (PostgreSQL)."

TAG = "BATP"
N_LOCATIONS = 50


def add_arguments(parser) -> None:
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=200, help="SKUs in the naive loop sample")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the tagged dataset")


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _dataset_ready(skus: int) -> bool:
    from inventory.models import Location, Product

    return (
        Product.objects.filter(sku__startswith=f"{TAG}-").count() == skus
        and Location.objects.filter(code__startswith=f"{TAG}-").count() == N_LOCATIONS
    )


def _drop() -> None:
    with connection.cursor() as c:
        c.execute(f"""
            DELETE FROM inventory_stockmovement WHERE stock_level_id IN (SELECT sl.id FROM inventory_stocklevel sl
                JOIN inventory_product p ON p.id = sl.product_id WHERE p.sku LIKE '{TAG}-%%');
            DELETE FROM inventory_cyclecount WHERE stock_level_id IN (SELECT sl.id FROM inventory_stocklevel sl
                JOIN inventory_product p ON p.id = sl.product_id WHERE p.sku LIKE '{TAG}-%%');
            DELETE FROM inventory_reservation WHERE stock_level_id IN (SELECT sl.id FROM inventory_stocklevel sl
                JOIN inventory_product p ON p.id = sl.product_id WHERE p.sku LIKE '{TAG}-%%');
            DELETE FROM inventory_outboxevent WHERE product_id IN (SELECT id FROM inventory_product WHERE sku LIKE '{TAG}-%%');
            DELETE FROM allocation_safetystockpolicy WHERE product_id IN (SELECT id FROM inventory_product WHERE sku LIKE '{TAG}-%%');
            DELETE FROM inventory_stocklevel WHERE product_id IN (SELECT id FROM inventory_product WHERE sku LIKE '{TAG}-%%');
            DELETE FROM inventory_product WHERE sku LIKE '{TAG}-%%';
        """, [])
    from allocation.models import Channel, LocationGroup
    from inventory.models import Location

    Channel.objects.filter(code__startswith=TAG.lower()).delete()
    LocationGroup.objects.filter(code__startswith=TAG.lower()).delete()
    Location.objects.filter(code__startswith=f"{TAG}-").delete()


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
# The naive baseline: a per-SKU ORM loop, formula in Python
# --------------------------------------------------------------------------------------------


def naive_atp(*, ctx, product_id: int, now) -> int:
    """ATP of one SKU for one channel, the slow obvious way (several ORM queries per SKU)."""
    from allocation.availability.sql import VELOCITY_DAYS
    from allocation.models import ChannelQuota
    from allocation.safety_stock.models import SafetyStockPolicy
    from inventory.models import StockLevel, StockMovement

    channel = ctx.channel
    levels = list(StockLevel.objects.filter(product_id=product_id).values("location_id", "on_hand", "reserved"))
    floors = dict(SafetyStockPolicy.objects.filter(product_id=product_id, scope="location").values_list("location_id", "effective_quantity"))
    avail = {lv["location_id"]: max(lv["on_hand"] - lv["reserved"] - floors.get(lv["location_id"], 0), 0) for lv in levels}
    used = {lv["location_id"]: min(floors.get(lv["location_id"], 0), max(lv["on_hand"] - lv["reserved"], 0)) for lv in levels}
    visible = sum(avail.get(i, 0) for i in ctx.visible_pct)
    haircut = sum(avail.get(i, 0) - avail.get(i, 0) * pct // 100 for i, pct in ctx.visible_pct.items())
    ss_used = sum(used.get(i, 0) for i in ctx.visible_pct)
    ch = SafetyStockPolicy.objects.filter(product_id=product_id, scope="channel", channel=channel).first()
    pool_p = SafetyStockPolicy.objects.filter(product_id=product_id, scope="pool").first()
    buffer = ch.effective_quantity if ch else pool_p.effective_quantity if pool_p else 0
    extra = max(buffer - ss_used, 0)
    quota = 0
    pool = sum(avail.get(i, 0) for i in ctx.own_location_ids)
    for other, locs in ctx.quota_others.items():
        q = (ChannelQuota.objects.filter(channel_id=other, product_id=product_id, is_active=True).first()
             or ChannelQuota.objects.filter(channel_id=other, product__isnull=True, is_active=True).first())
        if q is None:
            continue
        share_bp = int(round(q.min_share_percent * 100))
        q_avail = sum(avail.get(i, 0) for i in locs)
        q_only = sum(avail.get(i, 0) for i in locs if i not in ctx.visible_pct)
        quota += max(min(math.ceil(pool * share_bp / 10000), q_avail) - q_only, 0)
    virtual = sum(avail.get(i, 0) * pct // 100 for i, pct in ctx.supplier_pct.items())
    lag = 0
    if channel.lag_buffer_enabled and ctx.sync_seconds:
        sold = -sum(StockMovement.objects.filter(
            stock_level__product_id=product_id, source=channel.code, bucket="on_hand", reason__in=["sale", "fulfilment"],
            created_at__gte=now - timedelta(days=VELOCITY_DAYS),
        ).values_list("quantity", flat=True))
        lag = math.ceil(sold * ctx.sync_seconds / (VELOCITY_DAYS * 86400))
    return max(visible - haircut - extra - quota + virtual - lag, 0)


# --------------------------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------------------------


def run(*, out, skus: int = 20_000, sample: int = 200, rebuild: bool = False, **_) -> dict:
    from allocation.availability.atp import atp_components, atp_components_for_context, availability_for_channels
    from allocation.availability.context import channel_contexts
    from allocation.models import Channel
    from inventory.models import Product

    if connection.vendor != "postgresql":
        raise SystemExit("bench atp needs PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/omni_alloc_bench)")
    if rebuild or not _dataset_ready(skus):
        with transaction.atomic():
            _drop()
            _build(skus, out)
    else:
        out(f"reusing tagged dataset ({skus} SKUs)")
    channels = list(Channel.objects.filter(code__startswith=TAG.lower()).order_by("code"))
    web = next(c for c in channels if c.code.endswith("-web"))
    product_ids = list(Product.objects.filter(sku__startswith=f"{TAG}-").order_by("id").values_list("id", flat=True))
    now = timezone.now()

    # snapshot: every SKU, one channel (all refinements), one SQL query; median of 3 after a warm-up
    atp_components(channel=web, product_ids=None, now=now)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        snapshot = atp_components(channel=web, product_ids=None, now=now)
        times.append(time.perf_counter() - t0)
    snapshot_seconds = statistics.median(times)
    snapshot = {pid: comp for pid, comp in snapshot.items() if pid in set(product_ids)}
    total_atp = sum(c.atp for c in snapshot.values())
    out(f"snapshot: {len(snapshot)} SKUs for {web.code} in {snapshot_seconds:.3f}s (runs: {', '.join(f'{t:.3f}' for t in times)})")

    # single SKU, every channel, API-level selector
    rng = random.Random(11)
    for pid in rng.sample(product_ids, 20):
        availability_for_channels(channels=channels, product_ids=[pid])
    lat = []
    for pid in rng.sample(product_ids, 200):
        t0 = time.perf_counter()
        availability_for_channels(channels=channels, product_ids=[pid])
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    p95 = lat[int(len(lat) * 0.95) - 1]
    out(f"single SKU × {len(channels)} channels: p50 {lat[len(lat) // 2]:.2f} ms, p95 {p95:.2f} ms")

    # naive per-SKU ORM loop on a sample, scaled; checked equal to the SQL figures
    ctx = channel_contexts(channels=[web], now=now)[web.pk]
    picked = rng.sample(product_ids, min(sample, len(product_ids)))
    t0 = time.perf_counter()
    naive = {pid: naive_atp(ctx=ctx, product_id=pid, now=now) for pid in picked}
    naive_sample_seconds = time.perf_counter() - t0
    naive_seconds = naive_sample_seconds * len(product_ids) / len(picked)
    mismatches = [pid for pid in picked if naive[pid] != (snapshot[pid].atp if pid in snapshot else 0)]
    sql_sample = atp_components_for_context(ctx=ctx, product_ids=picked, now=now)
    mismatches += [pid for pid in picked if sql_sample[pid].atp != (snapshot[pid].atp if pid in snapshot else 0)]
    out(f"naive loop: {len(picked)} SKUs in {naive_sample_seconds:.2f}s → {naive_seconds:.1f}s for {len(product_ids)}; "
        f"mismatches vs SQL: {len(mismatches)}")
    ratio = naive_seconds / snapshot_seconds if snapshot_seconds else float("inf")
    out(f"ratio {ratio:.0f}× (goals: snapshot ≤ 5 s, p95 ≤ 10 ms, ratio ≥ 50)")
    return {
        "skus": len(product_ids),
        "locations": N_LOCATIONS,
        "channels": len(channels),
        "stock_rows": len(product_ids) * N_LOCATIONS,
        "snapshot_channel": web.code,
        "snapshot_seconds": round(snapshot_seconds, 3),
        "snapshot_total_atp": total_atp,
        "single_sku_p50_ms": round(lat[len(lat) // 2], 2),
        "single_sku_p95_ms": round(p95, 2),
        "naive_sample_skus": len(picked),
        "naive_sample_seconds": round(naive_sample_seconds, 3),
        "naive_seconds": round(naive_seconds, 1),
        "ratio": round(ratio, 1),
        "naive_matches_sql": not mismatches,
    }
