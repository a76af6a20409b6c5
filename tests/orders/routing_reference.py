"""Routing's ``decide`` and criteria as they were before the seventh pass (commit 5bd2af9), kept
verbatim as the reference that ``test_routing_equivalence.py`` compares the engine with: the faster
code must take the same decisions, give the same reasons and raise the same errors."""

# flake8: noqa
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from django.utils import timezone

from omni.errors import InsufficientStock, ValidationFailed
from orders.routing.engine import ProfileSpec


@dataclass(frozen=True)
class LineNeed:
    index: int
    product_id: int
    sku: str
    quantity: int


@dataclass(slots=True)
class Candidate:
    location_id: int
    code: str
    kind: str
    latitude: float | None
    longitude: float | None
    daily_capacity: int | None
    handling_cost: float
    available: dict[int, int] = field(default_factory=dict)  # product_id -> unreserved units
    distance_km: float | None = None
    used_today: int = 0
    accuracy: float = 1.0  # share of checks (cycle counts, picks) that found the stock figure right
    covered: int = 0  # units of the whole order it can supply (set by the engine before scoring)
    # product_id -> days since units of it last arrived here (receipt or transfer in, from the ledger):
    # every unit on hand has been here at least that long. Absent: no inbound movement known.
    age_days: dict[int, float] = field(default_factory=dict)
    # product_id -> (stock row id, its location safety stock): what reserving there needs, read with
    # the availability (no second look-up when the plan is reserved)
    stock_rows: dict[int, tuple[int, int]] = field(default_factory=dict)

    def coverable_units(self, needs: Mapping[int, int]) -> int:
        """How many of the needed units (product_id -> qty) this location can supply."""
        avail = self.available
        return sum(min(q, avail.get(p, 0)) for p, q in needs.items())


@dataclass(frozen=True)
class ProductFacts:
    product_id: int
    sku: str
    end_of_season: date | None
    launched_on: date | None


@dataclass
class RoutingContext:
    lines: list[LineNeed]
    needs: dict[int, int]  # product_id -> total units
    total_units: int
    destination: tuple[float, float] | None
    today: date
    products: dict[int, ProductFacts]
    max_available: dict[int, int] = field(default_factory=dict)  # product_id -> deepest stock among candidates
    max_shipments: int = 2


class Criterion:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, *, weight: float = 1.0, params: Mapping[str, Any] | None = None):
        unknown = set(params or {}) - set(self.defaults)
        if unknown:
            raise ValidationFailed(
                f"Unknown parameter(s) {', '.join(sorted(unknown))} for routing criterion {self.name!r}.",
                code="invalid_routing_profile", details={"criteria": [f"{self.name}: unknown {sorted(unknown)}"]},
            )
        self.weight = float(weight)
        self.params = {**self.defaults, **(params or {})}

    def prepare(self, ctx: RoutingContext, candidates: list[Candidate]) -> None:
        """Compute whatever needs all candidates (normalisation). Optional."""

    def admits(self, ctx: RoutingContext, cand: Candidate) -> bool:
        return True

    def score(self, ctx: RoutingContext, cand: Candidate) -> float:
        raise NotImplementedError

    def score_all(self, ctx: RoutingContext, cands: list[Candidate]) -> list[float]:
        """Scores of many candidates at once; criteria override it with a tight loop (same values as ``score``)."""
        return [self.score(ctx, c) for c in cands]


class Proximity(Criterion):
    """Closer to the customer is better: 1 at the door, 0.5 at ``half_score_km``."""

    name = "proximity"
    label = "proximity"
    defaults = {"half_score_km": 100.0}

    def score(self, ctx: RoutingContext, cand: Candidate) -> float:
        if cand.distance_km is None:
            return 0.5  # no destination or no coordinates: neutral
        return 1.0 / (1.0 + cand.distance_km / float(self.params["half_score_km"]))

    def score_all(self, ctx: RoutingContext, cands: list[Candidate]) -> list[float]:
        half = float(self.params["half_score_km"])
        return [0.5 if c.distance_km is None else 1.0 / (1.0 + c.distance_km / half) for c in cands]


class StockStatus(Criterion):
    """Share of the order's units this location can ship: 1 when it has the whole order."""

    name = "stock_status"
    label = "stock status"

    def score(self, ctx: RoutingContext, cand: Candidate) -> float:
        return cand.covered / ctx.total_units if ctx.total_units else 0.0

    def score_all(self, ctx: RoutingContext, cands: list[Candidate]) -> list[float]:
        total = ctx.total_units
        return [c.covered / total for c in cands] if total else [0.0] * len(cands)


class RemainingCapacity(Criterion):
    """Remaining daily capacity (``Location.daily_capacity`` minus today's allocated orders).

    A location with none left is not a candidate; unlimited capacity scores 1."""

    name = "capacity"
    label = "remaining capacity"

    def admits(self, ctx: RoutingContext, cand: Candidate) -> bool:
        return cand.daily_capacity is None or cand.used_today < cand.daily_capacity

    def score(self, ctx: RoutingContext, cand: Candidate) -> float:
        if cand.daily_capacity is None:
            return 1.0
        if cand.daily_capacity <= 0:
            return 0.0
        return max(cand.daily_capacity - cand.used_today, 0) / cand.daily_capacity

    def score_all(self, ctx: RoutingContext, cands: list[Candidate]) -> list[float]:
        return [1.0 if c.daily_capacity is None else 0.0 if c.daily_capacity <= 0
                else max(c.daily_capacity - c.used_today, 0) / c.daily_capacity for c in cands]


class Accuracy(Criterion):
    """How far the location's stock figures can be trusted: (accurate counts + 1) / (counts + "not
    found" rejections + 1) over the accuracy window (``Candidate.accuracy``, loaded by the engine).
    A store that often cannot find what it was sent scores lower until its counts improve."""

    name = "accuracy"
    label = "stock accuracy"

    def score(self, ctx: RoutingContext, cand: Candidate) -> float:
        return cand.accuracy

    def score_all(self, ctx: RoutingContext, cands: list[Candidate]) -> list[float]:
        return [c.accuracy for c in cands]


DEFAULT_BANDS = [[50, 4.0], [300, 7.0], [1000, 12.0], [None, 20.0]]


def shipping_cost(distance_km: float | None, bands: list) -> float:
    """Shipping price by distance band: the first band whose upper bound (km) is ≥ the distance."""
    if distance_km is None:
        return float(bands[len(bands) // 2][1])
    for upper, price in bands:
        if upper is None or distance_km <= float(upper):
            return float(price)
    return float(bands[-1][1])


class FulfillmentCost(Criterion):
    """Shipping (by distance band) plus the location's handling cost; the cheapest candidate scores 1,
    others ``cheapest / cost``."""

    name = "cost"
    label = "fulfillment cost"
    defaults = {"bands": DEFAULT_BANDS}

    def prepare(self, ctx: RoutingContext, candidates: list[Candidate]) -> None:
        bands = self.params["bands"]
        self._cost = {c.location_id: shipping_cost(c.distance_km, bands) + c.handling_cost for c in candidates}
        self._cheapest = min(self._cost.values(), default=0.0)

    def cost(self, cand: Candidate) -> float:
        return self._cost[cand.location_id]

    def score(self, ctx: RoutingContext, cand: Candidate) -> float:
        cost = self._cost[cand.location_id]
        if cost <= 0:
            return 1.0
        return self._cheapest / cost if self._cheapest > 0 else 0.0

    def score_all(self, ctx: RoutingContext, cands: list[Candidate]) -> list[float]:
        costs, cheapest = self._cost, self._cheapest
        out = []
        for c in cands:
            cost = costs[c.location_id]
            out.append(1.0 if cost <= 0 else cheapest / cost if cheapest > 0 else 0.0)
        return out


class StockPriority(Criterion):
    """Ship what should go first, per SKU of the order and per candidate:

    - **aging stock here**: ``age = min(days since units last arrived here / aging_days, 1)`` — from
      the ledger (the latest receipt or transfer in of that stock row: every unit on hand has been
      there at least that long; without one, the SKU's launch date stands in);
    - **end of season**: ``season = 1`` from ``Product.end_of_season`` on, ramping up linearly over
      the ``season_horizon_days`` before it; it counts fully at a location whose units are old and
      half at one that was just replenished (``season × (½ + ½·age)``), so slow, end-of-season store
      stock is sold online first while fresh stock is kept for the walk-in customer;
    - **deep stock**: the location's units relative to the deepest candidate's.

    ``term = season_weight·season·(½ + ½·age) + age_weight·age + (1 − season_weight − age_weight)·depth``,
    averaged over the order's SKUs (a SKU the location lacks adds 0)."""

    name = "stock_priority"
    label = "stock priority"
    defaults = {"aging_days": 90, "season_weight": 0.4, "age_weight": 0.4, "season_horizon_days": 21}

    def prepare(self, ctx: RoutingContext, candidates: list[Candidate]) -> None:
        """Per SKU of the order, once: its season urgency, its launch-date age fallback, 1/deepest stock."""
        self._season_w = float(self.params["season_weight"])
        self._age_w = float(self.params["age_weight"])
        depth_w = max(1.0 - self._season_w - self._age_w, 0.0)
        self._aging = max(float(self.params["aging_days"]), 1.0)
        horizon = max(int(self.params["season_horizon_days"]), 0)
        # (product_id, season urgency, fallback age score, depth factor)
        self._terms: list[tuple[int, float, float, float]] = []
        for pid in ctx.needs:
            facts = ctx.products[pid]
            season = 0.0
            if facts.end_of_season is not None:
                days_left = (facts.end_of_season - ctx.today).days
                if days_left <= 0:
                    season = 1.0
                elif horizon and days_left < horizon:
                    season = 1.0 - days_left / horizon
            fallback = 0.0
            if facts.launched_on is not None:
                fallback = min(max((ctx.today - facts.launched_on).days, 0) / self._aging, 1.0)
            deepest = ctx.max_available.get(pid, 0)
            self._terms.append((pid, season, fallback, depth_w / deepest if deepest else 0.0))
        self._n = len(ctx.needs)

    def score(self, ctx: RoutingContext, cand: Candidate) -> float:
        return self.score_all(ctx, [cand])[0]

    def score_all(self, ctx: RoutingContext, cands: list[Candidate]) -> list[float]:
        if not self._n:
            return [0.0] * len(cands)
        terms, n, sw, aw, aging = self._terms, self._n, self._season_w, self._age_w, self._aging
        out = []
        for c in cands:
            avail, ages = c.available, c.age_days
            total = 0.0
            for pid, season, fallback, depth in terms:
                a = avail.get(pid, 0)
                if a > 0:
                    days = ages.get(pid)
                    age = fallback if days is None else (1.0 if days >= aging else max(days, 0.0) / aging)
                    total += sw * season * (0.5 + 0.5 * age) + aw * age + depth * a
            out.append(total / n)
        return out


class FewestSplits(Criterion):
    """Prefer one shipment: 1 for a location with the whole order, else its share of units halved.
    The engine also uses this weight to favour covering more of what is still needed, and never
    plans more than ``max_shipments`` locations."""

    name = "fewest_splits"
    label = "fewest splits"

    def score(self, ctx: RoutingContext, cand: Candidate) -> float:
        covered = cand.covered
        if covered >= ctx.total_units:
            return 1.0
        return 0.5 * covered / ctx.total_units if ctx.total_units else 0.0

    def score_all(self, ctx: RoutingContext, cands: list[Candidate]) -> list[float]:
        total = ctx.total_units
        return [1.0 if c.covered >= total else 0.5 * c.covered / total if total else 0.0 for c in cands]


CRITERIA: dict[str, type[Criterion]] = {
    c.name: c for c in (Proximity, StockStatus, RemainingCapacity, FulfillmentCost, StockPriority, FewestSplits, Accuracy)
}

DEFAULT_CRITERIA: list[dict[str, Any]] = [
    {"name": "stock_status", "weight": 3.0},
    {"name": "fewest_splits", "weight": 2.0},
    {"name": "proximity", "weight": 2.0},
    {"name": "cost", "weight": 1.0},
    {"name": "capacity", "weight": 1.0},
    {"name": "stock_priority", "weight": 0.5},
    {"name": "accuracy", "weight": 1.0},
]


def build_criteria(spec: Sequence[Mapping[str, Any]]) -> list[Criterion]:
    """Policy objects from a profile's ``criteria`` list; a clear error names what is wrong."""
    if not isinstance(spec, list) or not spec:
        raise ValidationFailed("A routing profile needs at least one criterion.", code="invalid_routing_profile",
                               details={"criteria": ["Must be a non-empty list."]})
    out: list[Criterion] = []
    seen: set[str] = set()
    for i, item in enumerate(spec):
        if not isinstance(item, Mapping) or item.get("name") not in CRITERIA:
            raise ValidationFailed(
                f"Criterion #{i + 1} must name one of: {', '.join(CRITERIA)}.", code="invalid_routing_profile",
                details={"criteria": [f"#{i + 1}: unknown criterion {item.get('name') if isinstance(item, Mapping) else item!r}"]},
            )
        name = item["name"]
        if name in seen:
            raise ValidationFailed(f"Criterion {name!r} is listed twice.", code="invalid_routing_profile",
                                   details={"criteria": [f"{name}: duplicate"]})
        seen.add(name)
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValidationFailed(f"Criterion {name!r} needs a weight ≥ 0.", code="invalid_routing_profile",
                                   details={"criteria": [f"{name}: weight must be a number ≥ 0"]})
        out.append(CRITERIA[name](weight=weight, params=item.get("params") or {}))
    return out


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
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
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
    for cand in candidates:
        cand.covered = cand.coverable_units(needs)
    for cr in criteria:
        cr.prepare(ctx, candidates)
    gates = [cr.admits for cr in criteria if type(cr).admits is not Criterion.admits]
    admitted = [c for c in candidates if all(g(ctx, c) for g in gates)] if gates else list(candidates)

    # Column-wise: each criterion scores every candidate in one tight loop.
    names = [cr.name for cr in criteria]
    columns = [cr.score_all(ctx, admitted) for cr in criteria]
    weights = [cr.weight for cr in criteria]
    totals = [0.0] * len(admitted)
    for w, col in zip(weights, columns):
        if w:
            totals = [t + w * v for t, v in zip(totals, col)]
    order = sorted(range(len(admitted)), key=lambda i: (-totals[i], admitted[i].code))

    def candidate_score(i: int) -> CandidateScore:
        c = admitted[i]
        return CandidateScore(c.location_id, c.code, totals[i], {n: col[i] for n, col in zip(names, columns)},
                              c.distance_km, c.covered)

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


