"""The routing (sourcing) engine: which locations fulfil an order, and why.

``route`` loads everything it needs up front (candidate stock for the order's SKUs in ONE
query, today's used capacity in one more), then ``decide`` scores every candidate with the
profile's criteria in plain Python loops and plans at most ``max_shipments`` locations.
``decide`` touches no database, so it is tested on hand-made candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import add, mul, neg
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from allocation.models import Channel
from allocation.accuracy.selectors import LocationAccuracy
from allocation.selectors import ChannelContext, available_sql, channel_location_ids, location_policy_join
from inventory.models import Location, StockLevel
from inventory.selectors import capacity_used
from omni.config_cache import ConfigCache, config_cache_seconds
from omni.errors import InsufficientStock
from omni.prepared import fetch_prepared, read_ahead_prepared

from .criteria import (
    DEFAULT_CRITERIA,
    Candidate,
    Criterion,
    LineNeed,
    ProductFacts,
    RoutingContext,
    build_criteria,
)
from omni.geo import haversine_km


@dataclass(frozen=True)
class ProfileSpec:
    name: str = "built-in default"
    version: int | None = None
    criteria: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_CRITERIA))
    max_shipments: int = 2
    allow_ship_to_store: bool = True
    profile_id: int | None = None
    reroute_shortage: str = "backorder"  # a rejected line nowhere else in stock: "backorder" or "cancel"


@dataclass(frozen=True)
class CandidateScore:
    location_id: int
    code: str
    total: float
    scores: dict[str, float]
    distance_km: float | None
    coverable_units: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "location": self.code, "total": round(self.total, 4),
            # (1.0 and ±0.0, most scores, are their own rounding: round(v, 4) only for the others)
            "scores": {k: v if v == 1.0 or v == 0.0 else round(v, 4) for k, v in self.scores.items()},
            "distance_km": None if self.distance_km is None else round(self.distance_km, 1),
            "coverable_units": self.coverable_units,
        }


TOP_CANDIDATES = 20


@dataclass(frozen=True)
class PlannedAllocation:
    line_index: int
    product_id: int
    location_id: int
    location_code: str
    quantity: int


@dataclass(frozen=True)
class RoutingDecision:
    """The engine's answer: the plan, the best-scored candidates (best first) and why."""

    plan: list[PlannedAllocation]
    candidates: list[CandidateScore]  # the best TOP_CANDIDATES, best first, plus any winner further down
    reason: str
    profile: ProfileSpec
    candidate_count: int = 0  # how many candidates were scored
    # (product id, location id) -> (stock row id, location safety stock) of every planned allocation,
    # as routing read them (``allocations_reserve(stock_rows=…)``: no second look-up)
    stock_rows: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)

    @property
    def shipments(self) -> int:
        return len({p.location_id for p in self.plan})

    def stored_candidates(self, top: int = 10) -> list[dict[str, Any]]:
        """The best ``top`` candidates plus every winner, for the stored decision."""
        win = {p.location_id for p in self.plan}
        keep = [c for i, c in enumerate(self.candidates) if i < top or c.location_id in win]
        return [c.as_dict() for c in keep]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _candidates_statement(*, product_ids: list[int], location_ids: list[int], destination: tuple[float, float] | None,
                          require_can_ship: bool, now: datetime, with_age: bool) -> tuple[str, list[Any]]:
    """``load_candidates``' statement on PostgreSQL and its parameters."""
    # Arrays travel as one text literal each: far cheaper to send than 500 bound integers.
    params: list[Any] = []
    if destination is not None:
        params += [float(destination[0]), float(destination[0]), float(destination[1])]
    if with_age:
        params.append(now)
    params += ["{" + ",".join(map(str, product_ids)) + "}", "{" + ",".join(map(str, location_ids)) + "}"]
    key = (destination is not None, require_can_ship, with_age)
    sql = _CANDIDATES_TEXTS.get(key)
    if sql is None:
        sql = _CANDIDATES_TEXTS[key] = _candidates_text(*key)
    return sql, params


def _candidates_text(with_destination: bool, require_can_ship: bool, with_age: bool) -> str:
    sl, loc = StockLevel._meta.db_table, Location._meta.db_table
    last_in = "s.last_received_at"
    ss_join = location_policy_join(stock="s", policy="ss")
    avail = available_sql(stock="s", policy="ss")
    loc_where = " AND ".join(["l.is_active", *(["l.can_ship"] if require_can_ship else [])])
    used = "0"  # today's orders come from the capacity counters (load_used_capacity)
    if with_destination:
        # Haversine, as omni.geo.haversine_km (least() would ignore a NULL: guard it).
        dist = ("CASE WHEN l.latitude IS NULL OR l.longitude IS NULL THEN NULL ELSE "
                "2 * 6371.0088 * asin(least(1.0, sqrt(power(sin(radians(l.latitude - %s::float8) / 2), 2) "
                "+ cos(radians(%s::float8)) * cos(radians(l.latitude)) * power(sin(radians(l.longitude - %s::float8) / 2), 2)))) END")
    else:
        dist = "NULL::float8"
    ages = (f"array_agg(extract(epoch FROM %s::timestamptz - {last_in})::float8 / 86400.0)" if with_age
            else "NULL::float8[]")
    # Stock rows of the order's SKUs aggregated per location (a hash aggregate), joined to the locations.
    # The stock rows are found through the product's index only ("location_id + 0" is no index
    # condition): a product has at most one row per location. Without statistics (a generic plan,
    # a table never analysed) PostgreSQL ANDed it with the location index's bitmap, every row of
    # every visible location (4,200 for 21 locations): 0.28 → 0.19 ms of the backend's CPU per call.
    return (f"SELECT l.id, l.code, l.kind, l.latitude, l.longitude, l.daily_capacity, l.handling_cost::float8, {used}, "
            f"{dist}, st.pids, st.avail, st.ages, st.lids, st.floors FROM (SELECT s.location_id, array_agg(s.product_id) AS pids, "
            f"array_agg({avail}) AS avail, {ages} AS ages, array_agg(s.id) AS lids, "
            f"array_agg(COALESCE(ss.effective_quantity, 0)) AS floors FROM {sl} s {ss_join} WHERE s.product_id = ANY(%s::bigint[]) "
            f"AND s.location_id + 0 = ANY(%s::bigint[]) AND {avail} > 0 GROUP BY s.location_id) st "
            f"JOIN {loc} l ON l.id = st.location_id WHERE {loc_where}")


# (with a destination, require_can_ship, with the stock's age) → the statement's text
_CANDIDATES_TEXTS: dict[tuple[bool, bool, bool], str] = {}


def candidates_read_ahead(
    *, channel: Channel, product_ids: Iterable[int], destination: tuple[float, float] | None, profile: ProfileSpec,
    context: ChannelContext, now: datetime, only_location_ids: Iterable[int] | None = None, require_can_ship: bool = True,
) -> None:
    """Send the candidates statement that ``route`` (with the same arguments, ``now`` included)
    will run in front of the connection's next statement — intake's ATP check, which writes
    nothing — instead of in a round trip of its own (``omni.prepared.read_ahead_prepared``). When
    routing then asks for other products (scarcity took a line), or anything else was sent in
    between, it reads them itself. With them go the keys of the allocations of a plan that takes
    each line (one per product id given) from one location, the usual plan
    (``allocations_reserve`` takes them). PostgreSQL only."""
    if connection.vendor != "postgresql":
        return
    from orders.services.allocating import allocation_keys_read_ahead  # (allocating imports this module)

    product_ids = list(product_ids)
    visible = _route_locations(channel=channel, context=context, only_location_ids=only_location_ids)
    ids, locations = list(dict.fromkeys(product_ids)), list(visible)
    if not ids or not locations:
        return
    sql, params = _candidates_statement(product_ids=ids, location_ids=locations, destination=destination,
                                        require_can_ship=require_can_ship, now=now,
                                        with_age=profile_weighs_stock_age(profile))
    read_ahead_prepared(sql, params, prefix="omni_route_")
    allocation_keys_read_ahead(count=len(product_ids))


def _route_locations(*, channel: Channel, context: ChannelContext | None, only_location_ids: Iterable[int] | None = None,
                     exclude_location_ids: Iterable[int] = ()) -> set[int]:
    visible = channel_location_ids(channel=channel, context=context)
    if only_location_ids is not None:
        visible &= set(only_location_ids)
    visible -= set(exclude_location_ids)
    return visible


def load_candidates(
    *, product_ids: Iterable[int], location_ids: Iterable[int], destination: tuple[float, float] | None,
    require_can_ship: bool = True, now: datetime | None = None, with_age: bool = False,
    counters: Mapping[int, int] | None = None,
) -> list[Candidate]:
    """Every location (of ``location_ids``) with available stock (unreserved, above its location
    safety stock) of any of the products, with the
    orders it already took today when it has a daily capacity: ONE query. ``with_age`` also reads,
    per stock row, the days since units last arrived there (``StockLevel.last_received_at``, the
    time of its latest receipt or transfer in in the ledger) into ``Candidate.age_days``.
    ``counters``: today's capacity counters already read in this request (no query for them)."""

    product_ids, location_ids = list(dict.fromkeys(product_ids)), list(location_ids)
    if not product_ids or not location_ids:
        return []
    sl, loc = StockLevel._meta.db_table, Location._meta.db_table
    pg = connection.vendor == "postgresql"
    now = now or timezone.now()
    last_in = "s.last_received_at"
    # What a location can give: allocation's one rule (on hand − reserved − its location safety
    # stock, never below 0), as SQL over the stock row s joined to its policy ss.
    ss_join = location_policy_join(stock="s", policy="ss")
    avail = available_sql(stock="s", policy="ss")
    where = [f"{avail} > 0", "l.is_active"]
    if require_can_ship:
        where.append("l.can_ship")
    if pg:
        sql, params = _candidates_statement(product_ids=product_ids, location_ids=location_ids, destination=destination,
                                            require_can_ship=require_can_ship, now=now, with_age=with_age)
        # A named prepared statement (one text per flag combination): PostgreSQL planned it on every
        # order (0.35–0.4 ms), for a run of 0.26 ms. Read ahead with the channel's ATP statement
        # when intake asked for it (candidates_read_ahead), else read now.
        rows = fetch_prepared(sql, params, prefix="omni_route_")
    else:
        where[:0] = [f"s.product_id IN ({','.join(['%s'] * len(product_ids))})",
                     f"s.location_id IN ({','.join(['%s'] * len(location_ids))})"]
        used = "0"
        last = last_in if with_age else "NULL"
        sql = (f"SELECT l.id, l.code, l.kind, l.latitude, l.longitude, l.daily_capacity, l.handling_cost, {used}, "
               f"s.product_id, {avail}, {last}, s.id, COALESCE(ss.effective_quantity, 0) FROM {sl} s {ss_join} "
               f"JOIN {loc} l ON l.id = s.location_id WHERE {' AND '.join(where)}")
        with connection.cursor() as cur:
            cur.execute(sql, [*product_ids, *location_ids])
            dlat, dlon = destination if destination is not None else (None, None)
            rows = [(*r[:8], haversine_km(dlat, dlon, r[3], r[4]) if dlat is not None and dlon is not None and r[3] is not None
                     and r[4] is not None else None, [r[8]], [r[9]], [_days_since(now, r[10])], [r[11]], [r[12]])
                    for r in cur.fetchall()]
    candidates = _location_candidates(rows) if pg else _candidates_from_rows(rows)
    if counters is None:
        load_used_capacity(candidates=candidates, now=now)
    else:
        for c in candidates:
            if c.daily_capacity is not None:
                c.used_today = counters.get(c.location_id, 0)
    return candidates


def _candidates_from_rows(rows: Iterable[Sequence[Any]]) -> list[Candidate]:
    """Candidates from ``load_candidates``' rows, merging the rows of one location (SQLite's: one
    per stock row). The general path, and the reference of ``_location_candidates``."""
    by_loc: dict[int, Candidate] = {}
    for loc_id, code, kind, lat, lon, cap, handling, used_today, dist, pids, avails, ages, lids, floors in rows:
        cand = by_loc.get(loc_id)
        if cand is None:
            cand = by_loc[loc_id] = Candidate(
                location_id=loc_id, code=code, kind=kind, latitude=lat, longitude=lon, daily_capacity=cap,
                handling_cost=float(handling or 0), distance_km=dist, used_today=used_today or 0,
                available=dict(zip(pids, avails, strict=True)),
            )
        else:
            cand.available.update(zip(pids, avails, strict=True))
        # (plain loops: a generator fed to dict.update per location was routing's largest cost in a
        # live profile of the order path)
        if ages:
            age_days = cand.age_days
            for p, a in zip(pids, ages, strict=True):
                if a is not None:
                    age_days[p] = a
        stock_rows = cand.stock_rows
        for p, lid, floor in zip(pids, lids, floors, strict=True):
            f = int(floor)
            stock_rows[p] = (int(lid), f if f > 0 else 0)
    return list(by_loc.values())


def _location_candidates(rows: Iterable[Sequence[Any]]) -> list[Candidate]:
    """``_candidates_from_rows`` for PostgreSQL's rows, one per location (its stock rows
    aggregated into arrays of one length, integers from bigint and integer columns): each
    candidate built at once, its maps by ``dict(zip(…))`` (in C) where the arrays need no
    cleaning. The same candidates (tests/orders/test_routing_equivalence.py compares the two)."""
    out: list[Candidate] = []
    append = out.append
    for loc_id, code, kind, lat, lon, cap, handling, used_today, dist, pids, avails, ages, lids, floors in rows:
        if min(floors) < 0:  # (never: a safety stock is ≥ 0; the general path clamps it)
            append(_candidates_from_rows([(loc_id, code, kind, lat, lon, cap, handling, used_today, dist, pids, avails,
                                           ages, lids, floors)])[0])
            continue
        if not ages:
            age_days = {}
        elif None in ages:
            age_days = {p: a for p, a in zip(pids, ages) if a is not None}
        else:
            age_days = dict(zip(pids, ages))
        append(Candidate(loc_id, code, kind, lat, lon, cap, float(handling or 0), dict(zip(pids, avails)), dist,
                         used_today or 0, 1.0, 0, age_days, dict(zip(pids, zip(lids, floors)))))
    return out


def _days_since(now: datetime, value: Any) -> float | None:
    """Days from ``value`` (a datetime, or SQLite's text of one) to ``now``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt_timezone.utc)
    return (now - value).total_seconds() / 86400.0


def profile_weighs_stock_age(profile: ProfileSpec) -> bool:
    """Whether the profile scores stock priority (so routing must read the stock's age)."""
    return any(c.get("name") == "stock_priority" and (c.get("weight", 1.0) or 0) > 0 for c in profile.criteria)


def load_used_capacity(*, candidates: list[Candidate], now: datetime | None = None) -> None:
    """Fill ``used_today`` for candidates with a daily capacity: the orders each took on its own
    local day, from the counter that ``capacity_claim`` updates (ONE query, none when no candidate
    has a capacity)."""
    limited = [c.location_id for c in candidates if c.daily_capacity is not None]
    if not limited:
        return
    used = capacity_used(location_ids=limited, now=now)
    for c in candidates:
        c.used_today = used.get(c.location_id, 0)


NOT_FOUND_REASON = "not_found"  # how a "not found" rejection's reason starts (fulfillment writes it)


def _accuracy_cache_seconds() -> float:
    return 0.0 if config_cache_seconds() <= 0 else float(settings.OMNI_ACCURACY_CACHE_SECONDS)


# Location id → its "not found" rejections over the accuracy window, kept per process for
# OMNI_ACCURACY_CACHE_SECONDS (60): the window is 90 days, so a minute's lag for a rejection
# recorded by another process changes no score anyone could notice. One recorded by this process
# counts at once (``rejections_recorded``, called where orders closes an allocation as rejected):
# the store that just could not find the units must not win the very next order here.
_NOT_FOUND_COUNTS: ConfigCache[int, int] = ConfigCache("not-found rejections by location", seconds=_accuracy_cache_seconds)


def rejections_recorded(*, location_ids: Iterable[int]) -> None:
    """These locations rejected units: their next accuracy read in this process counts them."""
    _NOT_FOUND_COUNTS.clear_now_and_on_commit(location_ids)


def load_accuracy(*, candidates: list[Candidate], now: datetime | None = None,
                  counts: Mapping[int, LocationAccuracy] | None = None) -> None:
    """Fill ``accuracy`` of the candidates: their cycle counts (as allocation materializes them) and
    the units they rejected as "not found" over the accuracy window (kept per process, see
    ``_NOT_FOUND_COUNTS``; read afresh when ``now`` is given). At most two small queries (none when
    ``counts``, the materialized counts, were already read in this request and the rejections are
    cached)."""
    from allocation.accuracy.selectors import location_accuracy

    if not candidates:
        return
    ids = [c.location_id for c in candidates]
    if counts is None:
        counts = location_accuracy(location_ids=ids)
    if now is None:
        missed = _NOT_FOUND_COUNTS.get_many(ids, _not_found_counts, missing=0)
    else:
        missed = _not_found_counts(ids, now=now)
    for c in candidates:
        acc = counts.get(c.location_id)
        n, ok = (acc.counts, acc.accurate) if acc is not None else (0, 0)
        c.accuracy = (ok + 1) / (n + missed.get(c.location_id, 0) + 1)


def _not_found_counts(location_ids: list[int], *, now: datetime | None = None) -> dict[int, int]:
    """location id → its allocations rejected as "not found" over the accuracy window (those with some)."""
    from allocation.accuracy.selectors import ACCURACY_DAYS
    from orders.models import Allocation, AllocationStatus

    since = (now or timezone.now()) - timedelta(days=ACCURACY_DAYS)
    # Plain SQL: the ORM's aggregate took 0.55 ms of CPU to build, this 0.1.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT location_id, COUNT(*) FROM {Allocation._meta.db_table} "
            f"WHERE location_id IN ({', '.join(['%s'] * len(location_ids))}) "
            "AND status = %s AND created_at >= %s AND substr(reason, 1, %s) = %s GROUP BY location_id",
            [*location_ids, AllocationStatus.REJECTED.value, since, len(NOT_FOUND_REASON), NOT_FOUND_REASON])
        return {int(pk): int(n) for pk, n in cursor.fetchall()}


# --------------------------------------------------------------------------------------------
# Deciding (no database)
# --------------------------------------------------------------------------------------------


def _explain(cs: CandidateScore, criteria: list[Criterion]) -> str:
    parts = ", ".join(f"{c.label} {cs.scores[c.name]:.2f}×{c.weight:g}" for c in criteria)
    return f"{cs.code} scored {cs.total:.2f} ({parts})"


def insufficient(lines: list[LineNeed], available: Mapping[int, int], *, where: str = "") -> InsufficientStock:
    short = [
        {"sku": ln.sku, "requested": ln.quantity, "available": available.get(ln.product_id, 0)}
        for ln in lines
    ]
    # Several lines of one SKU share its availability.
    wanted: dict[int, int] = {}
    for ln in lines:
        wanted[ln.product_id] = wanted.get(ln.product_id, 0) + ln.quantity
    lacking = [s for s, ln in zip(short, lines, strict=True) if wanted[ln.product_id] > available.get(ln.product_id, 0)]
    text = "; ".join(f"{s['sku']}: {s['requested']} requested, {s['available']} available" for s in lacking)
    return InsufficientStock(f"Not enough stock{where} for this order ({text}). Nothing was reserved.",
                             code="insufficient_stock", details={"lines": short})


def decide(
    *, lines: list[LineNeed], products: Mapping[int, ProductFacts], candidates: list[Candidate],
    destination: tuple[float, float] | None, profile: ProfileSpec, today: date | None = None,
) -> RoutingDecision:
    """Score every candidate and plan the allocations; ``InsufficientStock`` when it cannot be done."""
    needs: dict[int, int] = {}
    for ln in lines:
        needs[ln.product_id] = needs.get(ln.product_id, 0) + ln.quantity
    max_avail: dict[int, int] = dict.fromkeys(needs, 0)
    pooled: dict[int, int] = dict.fromkeys(needs, 0)
    for cand in candidates:
        for pid, qty in cand.available.items():
            if pid in max_avail:
                pooled[pid] += qty
                if qty > max_avail[pid]:
                    max_avail[pid] = qty
    ctx = RoutingContext(
        lines=lines, needs=needs, total_units=sum(needs.values()), destination=destination,
        today=today or timezone.now().date(), products=dict(products), max_available=max_avail,
        max_shipments=profile.max_shipments,
    )
    if any(pooled[p] < q for p, q in needs.items()):
        raise insufficient(lines, pooled)
    criteria = build_criteria(profile.criteria)
    if len(needs) == 1:  # (one SKU: ``coverable_units`` without a loop or a generator per candidate)
        ((pid, qty),) = needs.items()
        for cand in candidates:
            units = cand.available.get(pid, 0)
            cand.covered = units if units < qty else qty
    else:  # (``coverable_units`` inlined)
        need_items = list(needs.items())
        for cand in candidates:
            get = cand.available.get
            units = 0
            for pid, qty in need_items:
                a = get(pid, 0)
                units += a if a < qty else qty
            cand.covered = units
    for cr in criteria:
        cr.prepare(ctx, candidates)
    gates = [cr.admits for cr in criteria if type(cr).admits is not Criterion.admits]
    if len(gates) == 1:  # (the capacity's, nearly always: no generator per candidate)
        gate = gates[0]
        admitted = [c for c in candidates if gate(ctx, c)]
    else:
        admitted = [c for c in candidates if all(g(ctx, c) for g in gates)] if gates else list(candidates)

    # Column-wise: each criterion scores every candidate in one tight loop.
    names = [cr.name for cr in criteria]
    columns = [cr.score_all(ctx, admitted) for cr in criteria]
    weights = [cr.weight for cr in criteria]
    totals = [0.0] * len(admitted)
    for w, col in zip(weights, columns):
        if w:  # t + w × v for each candidate, in C
            totals = list(map(add, totals, map(mul, repeat(w), col)))
    # best total first, then by code (the index last: a tie keeps the candidates' order, as a stable sort)
    order = [i for _t, _c, i in sorted(zip(map(neg, totals), [c.code for c in admitted], range(len(admitted))))]

    # each candidate's scores, in criterion order (built in C: a dict comprehension per candidate
    # scored was the engine's largest single cost)
    by_candidate = list(zip(*columns))

    def candidate_score(i: int) -> CandidateScore:
        c = admitted[i]
        return CandidateScore(c.location_id, c.code, totals[i], dict(zip(names, by_candidate[i])), c.distance_km, c.covered)

    split_w = next((cr.weight for cr in criteria if cr.name == "fewest_splits"), 0.0)
    remaining = dict(needs)
    remaining_total = ctx.total_units
    picks: list[tuple[CandidateScore, Candidate, dict[int, int]]] = []
    picked: set[int] = set()
    while remaining_total > 0 and len(picks) < profile.max_shipments:
        last = len(picks) == profile.max_shipments - 1
        first = not picks
        best, best_key, best_cov = -1, 0.0, 0
        for i in order:
            if i in picked:
                continue
            cand = admitted[i]
            cov = cand.covered if first else cand.coverable_units(remaining)
            if cov == 0 or (last and cov < remaining_total):
                continue
            key = totals[i] + split_w * cov / remaining_total
            if best < 0 or key > best_key:
                best, best_key, best_cov = i, key, cov
        if best < 0:
            break
        cand = admitted[best]
        take = {p: min(q, cand.available.get(p, 0)) for p, q in remaining.items() if q and cand.available.get(p, 0)}
        for p, q in take.items():
            remaining[p] -= q
        remaining_total -= best_cov
        picked.add(best)
        picks.append((candidate_score(best), cand, take))

    if remaining_total > 0:
        admitted_pool: dict[int, int] = dict.fromkeys(needs, 0)
        for c in admitted:
            for p in needs:
                admitted_pool[p] += c.available.get(p, 0)
        if any(admitted_pool[p] < q for p, q in needs.items()):
            raise insufficient(lines, admitted_pool, where=" at locations with capacity left today")
        raise InsufficientStock(
            f"The order cannot be fulfilled from at most {profile.max_shipments} location(s) "
            f"(routing profile {profile.name!r}); the stock is spread too thin. Nothing was reserved.",
            code="max_shipments_exceeded",
            details={"max_shipments": profile.max_shipments, "lines": [
                {"sku": ln.sku, "requested": ln.quantity, "available": pooled.get(ln.product_id, 0)} for ln in lines]},
        )

    # Units per product → per line, in line order.
    plan: list[PlannedAllocation] = []
    pools = [(cs, dict(take)) for cs, _cand, take in picks]
    for ln in lines:
        left = ln.quantity
        for cs, take in pools:
            q = min(left, take.get(ln.product_id, 0))
            if q:
                take[ln.product_id] -= q
                left -= q
                plan.append(PlannedAllocation(ln.index, ln.product_id, cs.location_id, cs.code, q))
            if not left:
                break

    n = len(admitted)
    if len(picks) == 1:
        cs = picks[0][0]
        reason = f"{_explain(cs, criteria)}: it has the whole order; best of {n} candidate(s)."
    else:
        full = next((i for i in order if admitted[i].covered >= ctx.total_units), None)
        why = ("no single candidate has the whole order" if full is None
               else f"splitting scored higher than the best single location {admitted[full].code} ({totals[full]:.2f})")
        steps = "; ".join(
            f"{_explain(cs, criteria)} supplies " + ", ".join(f"{products[p].sku}×{q}" for p, q in take.items())
            for cs, _c, take in picks
        )
        reason = f"Split into {len(picks)} shipments because {why}: {steps}. {n} candidate(s) scored."
    top = order[:TOP_CANDIDATES] + sorted(picked - set(order[:TOP_CANDIDATES]), key=order.index)
    by_location = {c.location_id: c for c in admitted}
    rows = {(p.product_id, p.location_id): row for p in plan
            if (row := by_location[p.location_id].stock_rows.get(p.product_id)) is not None}
    return RoutingDecision(plan=plan, candidates=[candidate_score(i) for i in top], reason=reason, profile=profile,
                           candidate_count=n, stock_rows=rows)


# --------------------------------------------------------------------------------------------
# Routing an order (loads, then decides)
# --------------------------------------------------------------------------------------------


def route(
    *, channel: Channel, lines: list[LineNeed], products: Mapping[int, ProductFacts],
    destination: tuple[float, float] | None, profile: ProfileSpec, exclude_location_ids: Iterable[int] = (),
    only_location_ids: Iterable[int] | None = None, require_can_ship: bool = True,
    context: ChannelContext | None = None, now: datetime | None = None,
) -> RoutingDecision:
    """Route the lines. ``context``: the channel's planning context already loaded in this request
    (``allocation.selectors.planning_context``): where it sells, today's capacity counters and the
    locations' accuracy are then not read again. Pass it only while it is fresh (the first try).
    ``now``: the time the stock's age is measured at (``candidates_read_ahead``'s)."""
    visible = _route_locations(channel=channel, context=context, only_location_ids=only_location_ids,
                               exclude_location_ids=exclude_location_ids)
    candidates = load_candidates(
        product_ids=[ln.product_id for ln in lines], location_ids=visible, destination=destination,
        require_can_ship=require_can_ship, with_age=profile_weighs_stock_age(profile),
        counters=context.used_today if context is not None else None, now=now,
    )
    if any(c.get("name") == "accuracy" for c in profile.criteria if isinstance(c, Mapping)):
        load_accuracy(candidates=candidates, counts=context.accuracy if context is not None else None)
    return decide(lines=lines, products=products, candidates=candidates, destination=destination, profile=profile)
