"""Routing's ``decide`` as it was before the seventh pass (commit 5bd2af9), kept
verbatim as the reference that ``test_routing_equivalence.py`` compares the engine with: the faster
code must take the same decisions, give the same reasons and raise the same errors."""

# flake8: noqa
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone

from omni.errors import InsufficientStock
from orders.routing.engine import ProfileSpec


# The criteria did not change in the seventh pass: the reference takes them from their module
# (only ``decide`` and what it builds are kept as they were).
from orders.routing.criteria import Candidate, Criterion, LineNeed, ProductFacts, RoutingContext, build_criteria  # noqa: E402


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


