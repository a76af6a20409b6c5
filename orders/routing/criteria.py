"""Routing criteria: small policy objects, each scoring one candidate location in [0, 1].

A routing profile lists criteria by name with a weight and parameters; the engine sums
``weight × score`` per candidate. A criterion may also refuse a candidate outright
(``admits``), e.g. a location whose daily capacity is used up.

Criteria see plain data (``Candidate``, ``RoutingContext``), never querysets: the engine loads
everything in a couple of queries first, so scoring 500 candidates is a tight Python loop.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from omni.errors import ValidationFailed


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


# repr(a criteria list) → (class, weight, merged params) per criterion, for the last few lists
# built: every order builds its profile's criteria anew (they keep one decision's state), and
# validating the same list every time was most of the cost. Only a list of plain dicts is kept
# (JSON's data, as profiles store it: its repr tells True from 1 and 1 from 1.0); replaced whole,
# never changed in place (threads read it).
_BUILT: dict[str, list[tuple[type[Criterion], float, dict[str, Any]]]] = {}
_BUILT_MAX = 16


def build_criteria(spec: Sequence[Mapping[str, Any]]) -> list[Criterion]:
    """Policy objects from a profile's ``criteria`` list; a clear error names what is wrong."""
    global _BUILT
    key = repr(spec) if type(spec) is list and all(type(item) is dict for item in spec) else None
    made = _BUILT.get(key) if key is not None else None
    if made is None:
        out = _build_criteria(spec)
        if key is not None and all(type(c).__init__ is Criterion.__init__ for c in out):  # (nothing else to rerun)
            kept = dict(list(_BUILT.items())[-(_BUILT_MAX - 1):]) if len(_BUILT) >= _BUILT_MAX else dict(_BUILT)
            kept[key] = [(type(c), c.weight, copy.deepcopy(c.params)) for c in out]
            _BUILT = kept
        return out
    built = []
    for cls, weight, params in made:
        criterion = cls.__new__(cls)
        criterion.weight, criterion.params = weight, dict(params)
        built.append(criterion)
    return built


def _build_criteria(spec: Sequence[Mapping[str, Any]]) -> list[Criterion]:
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
