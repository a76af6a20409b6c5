"""The routing what-if: past orders replayed against another routing profile, read-only.

For every delivery order of a date range (in the order they came), the routing engine decides
again with the chosen profile over the channel's locations as they stand now, each holding its
available units plus the units this order really took there (so the real decision is always among
the feasible ones). The replay runs in ONE transaction that is rolled back and, on PostgreSQL,
declared ``READ ONLY``: nothing it does can change stock, orders or decisions.

What it is not: a re-run of the whole period with the new profile's choices feeding the next
order's stock (that is what ``simulate`` does). Each order is judged against today's stock
positions; the README says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import connection, transaction

from allocation.selectors import channel_location_ids
from inventory.models import Location, LocationKind
from omni.errors import InsufficientStock
from omni.geo import haversine_km
from orders.models import AllocationStatus, DeliveryMode, LineStatus, Order
from orders.routing.criteria import DEFAULT_BANDS, Candidate, build_criteria, shipping_cost
from orders.routing.engine import ProfileSpec, decide, load_candidates, profile_weighs_stock_age
from orders.services.allocating import line_needs

MAX_LISTED = 200  # orders listed one by one where the decisions differ


@dataclass(frozen=True)
class WhatIfSpec:
    since: date
    until: date
    criteria: list[dict[str, Any]]
    max_shipments: int = 2
    profile_label: str = "edited copy"
    channel_id: int | None = None

    def profile(self) -> ProfileSpec:
        build_criteria(self.criteria)  # a clear error for a bad edit
        return ProfileSpec(name=self.profile_label, criteria=list(self.criteria), max_shipments=self.max_shipments)


@dataclass
class Side:
    orders: int = 0
    filled: int = 0
    cost: float = 0.0
    split: int = 0
    from_store: int = 0
    load: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        n = self.orders or 1
        return {"orders": self.orders, "fill_rate": self.filled / n, "cost": round(self.cost, 2),
                "cost_per_order": self.cost / n, "split_rate": self.split / n, "ship_from_store_rate": self.from_store / n,
                "store_load": dict(self.load.most_common())}


def _plan_cost(plan: dict[int, list[tuple[str, int]]], locations: dict[int, Location], dest: tuple[float, float] | None) -> float:
    """Routing's fulfilment cost of a plan: shipping by distance band plus handling, per shipment."""
    total = 0.0
    for loc_id in plan:
        loc = locations[loc_id]
        dist = (haversine_km(dest[0], dest[1], loc.latitude, loc.longitude)
                if dest is not None and loc.latitude is not None and loc.longitude is not None else None)
        total += shipping_cost(dist, DEFAULT_BANDS) + float(loc.handling_cost or 0)
    return total


def _count(side: Side, plan: dict[int, list], locations: dict[int, Location], dest, filled: bool) -> float:
    side.orders += 1
    if not filled:
        return 0.0
    side.filled += 1
    cost = _plan_cost(plan, locations, dest)
    side.cost += cost
    side.split += len(plan) > 1
    stores = [loc_id for loc_id in plan if locations[loc_id].kind == LocationKind.STORE]
    side.from_store += bool(stores)
    for loc_id in stores:
        side.load[locations[loc_id].code] += 1
    return cost


def whatif_run(*, spec: WhatIfSpec, progress: Callable[[int, int], None] | None = None) -> dict:
    profile = spec.profile()
    start = datetime.combine(spec.since, time.min, tzinfo=dt_timezone.utc)
    end = datetime.combine(spec.until + timedelta(days=1), time.min, tzinfo=dt_timezone.utc)
    qs = (Order.objects.filter(created_at__gte=start, created_at__lt=end).exclude(delivery_mode=DeliveryMode.BOPIS)
          .select_related("channel").prefetch_related("lines__product", "lines__allocations").order_by("created_at", "pk"))
    if spec.channel_id is not None:
        qs = qs.filter(channel_id=spec.channel_id)
    locations = {loc.pk: loc for loc in Location.objects.all()}
    actual, replay = Side(), Side()
    differ: list[dict] = []
    n_differ = 0
    with_age = profile_weighs_stock_age(profile)
    visible_of: dict[int, set[int]] = {}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
        orders = list(qs)
        for i, order in enumerate(orders, 1):
            lines = [ln for ln in order.lines.all() if ln.status != LineStatus.CANCELLED or ln.allocations.all()]
            taken: dict[int, list[tuple[str, int]]] = {}
            for ln in lines:
                for a in ln.allocations.all():
                    if a.status in (AllocationStatus.RESERVED, AllocationStatus.FULFILLED):
                        taken.setdefault(a.location_id, []).append((ln.product.sku, a.quantity))
            real_filled = bool(lines) and all(ln.status in (LineStatus.FULFILLED, LineStatus.ALLOCATED) for ln in lines)
            dest = ((order.latitude, order.longitude) if order.latitude is not None and order.longitude is not None
                    else None)
            real_cost = _count(actual, taken, locations, dest, real_filled)

            needs, facts = line_needs([(ln.line_no, ln.product, ln.quantity) for ln in lines])
            if order.channel_id not in visible_of:
                visible_of[order.channel_id] = channel_location_ids(channel=order.channel)
            cands = {c.location_id: c for c in load_candidates(
                product_ids=[n.product_id for n in needs], location_ids=visible_of[order.channel_id], destination=dest,
                with_age=with_age, now=order.created_at)}
            for ln in lines:  # the units this order took were available to it
                for a in ln.allocations.all():
                    if a.status not in (AllocationStatus.RESERVED, AllocationStatus.FULFILLED):
                        continue
                    cand = cands.get(a.location_id)
                    if cand is None:
                        loc = locations[a.location_id]
                        cand = cands[a.location_id] = Candidate(
                            location_id=loc.pk, code=loc.code, kind=loc.kind, latitude=loc.latitude, longitude=loc.longitude,
                            daily_capacity=loc.daily_capacity, handling_cost=float(loc.handling_cost or 0),
                            distance_km=(haversine_km(dest[0], dest[1], loc.latitude, loc.longitude)
                                         if dest is not None and loc.latitude is not None and loc.longitude is not None
                                         else None))
                    cand.available[ln.product_id] = cand.available.get(ln.product_id, 0) + a.quantity
            plan: dict[int, list[tuple[str, int]]] = {}
            try:
                decision = decide(lines=needs, products=facts, candidates=list(cands.values()), destination=dest,
                                  profile=profile, today=order.created_at.date())
                for p in decision.plan:
                    plan.setdefault(p.location_id, []).append((facts[p.product_id].sku, p.quantity))
                filled = True
            except InsufficientStock:
                filled = False
            new_cost = _count(replay, plan, locations, dest, filled)
            if set(plan) != set(taken) or filled != real_filled:
                n_differ += 1
                if len(differ) < MAX_LISTED:
                    differ.append({
                        "order": order.external_id, "channel": order.channel.code, "placed": order.created_at.isoformat(),
                        "actual": [locations[lid].code for lid in sorted(taken)], "whatif": [locations[lid].code for lid in sorted(plan)],
                        "actual_cost": round(real_cost, 2), "whatif_cost": round(new_cost, 2),
                        "whatif_filled": filled, "actual_filled": real_filled})
            if progress is not None:
                progress(i, len(orders))
        transaction.set_rollback(True)
    return {"profile": spec.profile_label, "criteria": spec.criteria, "max_shipments": spec.max_shipments,
            "since": spec.since.isoformat(), "until": spec.until.isoformat(), "orders": len(orders),
            "actual": actual.as_dict(), "whatif": replay.as_dict(), "differing_orders": n_differ, "differences": differ}
