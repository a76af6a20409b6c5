"""``bench routing``: routing decisions for 3-line orders over 500 candidate locations.

Measures the decision (``orders.routing.engine.route``: visibility, candidate stock for the order's
SKUs in ONE query, today's capacity, scoring every candidate with the default profile's six criteria,
planning) — no reservation. The baseline in the same run loads the same stock the naive way (ORM
model instances, one query per SKU, location fetched per row through ``select_related``) and then
decides identically, so the two differ only in how candidates are loaded.
"""

from __future__ import annotations

import random
import statistics
import time
from decimal import Decimal
from typing import Any, Callable

from django.db import transaction
from django.utils import timezone

from omni.benchmarks.measure import load_average, percentile

NAME = "routing"
HELP = "Routing decision latency for 3-line orders over 500 candidate locations."


def add_arguments(parser) -> None:
    parser.add_argument("--locations", type=int, default=500)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--skus", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)


def _setup(locations: int, skus: int, seed: int):
    """Locations across Turkey with random stock of every SKU; the ledger gets one receipt per row."""
    from allocation.models import Channel, ChannelVisibility
    from inventory.models import Location, MovementReason, Product, StockLevel, StockMovement

    rng = random.Random(seed)
    channel, _ = Channel.objects.get_or_create(code=f"bench-route-{locations}", defaults={"name": "Bench routing", "kind": "webshop"})
    have = Location.objects.filter(code__startswith=f"BR{locations}-").count()
    if have < locations:
        with transaction.atomic():
            locs = Location.objects.bulk_create([
                Location(code=f"BR{locations}-{i:04d}", name=f"Bench {i}", kind="store" if i % 10 else "warehouse",
                         latitude=rng.uniform(36.5, 41.5), longitude=rng.uniform(26.5, 44.0),
                         daily_capacity=rng.choice([None, 200, 500]), handling_cost=Decimal(rng.choice(["1.50", "2.00", "3.25"])),
                         can_pickup=bool(i % 10))
                for i in range(have, locations)
            ])
            ChannelVisibility.objects.bulk_create([ChannelVisibility(channel=channel, location=loc) for loc in locs])
    products = []
    for i in range(skus):
        p, _ = Product.objects.get_or_create(sku=f"BR-SKU-{i:03d}", defaults={"name": f"Bench SKU {i}"})
        products.append(p)
    loc_ids = list(Location.objects.filter(code__startswith=f"BR{locations}-").values_list("id", flat=True))
    stocked = set(StockLevel.objects.filter(product__in=products, location_id__in=loc_ids).values_list("product_id", flat=True))
    with transaction.atomic():
        received = timezone.now()  # each row's one receipt, below (the stock's age routing reads)
        new = [StockLevel(product=p, location_id=lid, on_hand=rng.randint(1, 30), last_received_at=received)
               for p in products if p.pk not in stocked for lid in loc_ids if rng.random() < 0.7]
        new = StockLevel.objects.bulk_create(new)
        StockMovement.objects.bulk_create([
            StockMovement(stock_level=lv, reason=MovementReason.RECEIPT, quantity=lv.on_hand, balance_after=lv.on_hand,
                          source="bench") for lv in new
        ])
    return channel, products


def _naive_candidates(*, product_ids, location_ids, destination):
    """Baseline loader: model instances, one query per SKU."""
    from inventory.models import StockLevel
    from orders.routing.criteria import Candidate
    from omni.geo import haversine_km

    by_loc: dict[int, Candidate] = {}
    for pid in product_ids:
        for lv in StockLevel.objects.filter(product_id=pid, location_id__in=location_ids).select_related("location"):
            loc = lv.location
            if not (loc.is_active and loc.can_ship) or lv.on_hand <= lv.reserved:
                continue
            cand = by_loc.get(loc.pk)
            if cand is None:
                cand = by_loc[loc.pk] = Candidate(
                    location_id=loc.pk, code=loc.code, kind=loc.kind, latitude=loc.latitude, longitude=loc.longitude,
                    daily_capacity=loc.daily_capacity, handling_cost=float(loc.handling_cost),
                    distance_km=haversine_km(destination[0], destination[1], loc.latitude, loc.longitude)
                    if loc.latitude is not None and loc.longitude is not None else None,
                )
            cand.available[pid] = lv.on_hand - lv.reserved
    return list(by_loc.values())


def run(*, out: Callable[[str], None], locations: int = 500, orders: int = 300, skus: int = 20, seed: int = 7,
        **_: Any) -> dict[str, Any]:
    from allocation.selectors import channel_location_ids
    from omni.errors import InsufficientStock
    from orders.routing.engine import ProfileSpec, decide, load_used_capacity, route
    from orders.services.allocating import line_needs

    load_before = load_average()
    channel, products = _setup(locations, skus, seed)
    rng = random.Random(seed + 1)
    profile = ProfileSpec(max_shipments=3)
    jobs = []
    for _order in range(orders):
        picked = rng.sample(products, 3)
        needs, facts = line_needs([(i + 1, p, rng.randint(1, 3)) for i, p in enumerate(picked)])
        jobs.append((needs, facts, (rng.uniform(36.5, 41.5), rng.uniform(26.5, 44.0))))

    def real(needs, facts, dest):
        return route(channel=channel, lines=needs, products=facts, destination=dest, profile=profile)

    def baseline(needs, facts, dest):
        visible = channel_location_ids(channel=channel)
        cands = _naive_candidates(product_ids=[n.product_id for n in needs], location_ids=visible, destination=dest)
        load_used_capacity(candidates=cands)
        return decide(lines=needs, products=facts, candidates=cands, destination=dest, profile=profile)

    results: dict[str, list[float]] = {}
    candidates_seen: list[int] = []
    for name, fn in (("real", real), ("baseline", baseline)):
        for job in jobs[:10]:  # warm up connections and caches
            try:
                fn(*job)
            except InsufficientStock:
                pass
        timings = []
        for job in jobs:
            t0 = time.perf_counter()
            try:
                decision = fn(*job)
                if name == "real":
                    candidates_seen.append(decision.candidate_count)
            except InsufficientStock:
                pass
            timings.append((time.perf_counter() - t0) * 1000)
        results[name] = timings
    real_t, base_t = results["real"], results["baseline"]
    p50, p95 = percentile(real_t, 0.5), percentile(real_t, 0.95)
    b95 = percentile(base_t, 0.95)
    total_s = sum(real_t) / 1000
    out(f"{orders} 3-line orders over {locations} locations ({statistics.mean(candidates_seen or [0]):.0f} scored candidates "
        f"on average): p50 {p50:.2f} ms, p95 {p95:.2f} ms; baseline p95 {b95:.2f} ms")
    return {
        "locations": locations, "orders": orders, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
        "orders_per_s": round(orders / total_s, 1) if total_s else None,
        "avg_candidates": round(statistics.mean(candidates_seen or [0]), 1),
        "baseline_p50_ms": round(percentile(base_t, 0.5), 2), "baseline_p95_ms": round(b95, 2),
        "ratio_p95": round(b95 / p95, 2) if p95 else None,
        "load_avg_1m": [load_before, load_average()],
    }
