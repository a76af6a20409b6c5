"""The routing engine's ``decide`` against its reference (``routing_reference.py``: the code before
the seventh pass made it cheaper) on thousands of random orders, candidates and profiles: the same
plan, scores (bit for bit), reason and stored candidates, or the same error. No database."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from omni.errors import OmniError
from orders.routing import criteria as crit
from orders.routing import engine
from orders.routing.engine import ProfileSpec

from . import routing_reference as ref

TODAY = date(2026, 11, 26)
NAMES = ["stock_status", "fewest_splits", "proximity", "cost", "capacity", "stock_priority", "accuracy"]


def _profile(rng: random.Random) -> ProfileSpec:
    if rng.random() < 0.3:
        return ProfileSpec(max_shipments=rng.choice((1, 2, 2, 3)))
    names = rng.sample(NAMES, rng.randint(1, len(NAMES)))
    spec = []
    for name in names:
        item: dict = {"name": name, "weight": rng.choice((0, 0.5, 1, 1.0, 2, 3.0, rng.random() * 4))}
        if name == "proximity" and rng.random() < 0.5:
            item["params"] = {"half_score_km": rng.choice((10, 50.0, 100, 400))}
        if name == "cost" and rng.random() < 0.5:
            item["params"] = {"bands": rng.choice(([[50, 4.0], [300, 7.0], [None, 20.0]], [[100, 0.0], [None, 5]]))}
        if name == "stock_priority" and rng.random() < 0.5:
            item["params"] = {"aging_days": rng.choice((1, 30, 90)), "season_weight": rng.choice((0.0, 0.4, 0.7)),
                              "age_weight": rng.choice((0.0, 0.4, 0.5)), "season_horizon_days": rng.choice((0, 10, 21))}
        spec.append(item)
    return ProfileSpec(name=f"p{rng.randint(1, 9)}", criteria=spec, max_shipments=rng.choice((1, 2, 2, 3)))


def _scenario(rng: random.Random):
    n_products = rng.randint(1, 4)
    facts = {}
    for pid in range(1, n_products + 1):
        eos = rng.choice((None, TODAY + timedelta(days=rng.randint(-30, 40))))
        launched = rng.choice((None, TODAY - timedelta(days=rng.randint(-5, 200))))
        facts[pid] = (pid, f"SKU-{pid}", eos, launched)
    lines = [(i + 1, rng.randint(1, n_products), rng.choice((1, 1, 1, 2, 3, 5))) for i in range(rng.randint(1, 4))]
    cands = []
    for loc in range(1, rng.randint(0, 30) + 1):
        avail = {p: rng.choice((0, 1, 1, 2, 3, 5, 10, 100)) for p in facts if rng.random() < 0.7}
        avail = {p: q for p, q in avail.items() if q}
        if not avail:
            continue
        cands.append({
            "location_id": loc * 7, "code": f"L{rng.randint(0, 40):02d}-{loc}", "kind": rng.choice(("store", "dc")),
            "latitude": None, "longitude": None, "daily_capacity": rng.choice((None, None, 0, 1, 5, 10)),
            "handling_cost": rng.choice((0.0, 0.5, 1.0, 2.5)),
            "distance_km": rng.choice((None, float(rng.choice((5, 50, 120))), rng.random() * 2000)),
            "used_today": rng.randint(0, 12), "accuracy": rng.choice((1.0, 0.5, rng.random())), "available": avail,
            "age_days": {p: rng.random() * 200 for p in avail if rng.random() < 0.6},
            "stock_rows": {p: (loc * 1000 + p, rng.choice((0, 0, 2))) for p in avail},
        })
    return facts, lines, cands


class _Current:
    """The engine as it is: its criteria's data classes and ``decide``."""

    ProductFacts, LineNeed, Candidate = crit.ProductFacts, crit.LineNeed, crit.Candidate
    decide = staticmethod(engine.decide)


def _run(module, facts, lines, cands, profile):
    products = {pid: module.ProductFacts(*f) for pid, f in facts.items()}
    needs = [module.LineNeed(index=i, product_id=p, sku=products[p].sku, quantity=q) for i, p, q in lines]
    candidates = []
    for c in cands:
        cand = module.Candidate(**{k: v for k, v in c.items() if k not in ("age_days", "stock_rows", "available")},
                                available=dict(c["available"]))
        cand.age_days, cand.stock_rows = dict(c["age_days"]), dict(c["stock_rows"])
        candidates.append(cand)
    try:
        d = module.decide(lines=needs, products=products, candidates=candidates, destination=(41.0, 29.0) if cands else None,
                          profile=profile, today=TODAY)
    except OmniError as exc:
        return ("error", type(exc).__name__, str(exc), exc.code, exc.details)
    return ("decision",
            [(p.line_index, p.product_id, p.location_id, p.location_code, p.quantity) for p in d.plan],
            [(c.location_id, c.code, c.total, c.scores, c.distance_km, c.coverable_units) for c in d.candidates],
            d.reason, d.candidate_count, d.stock_rows, d.stored_candidates(), d.shipments)


@pytest.mark.parametrize("seed", range(8))
def test_decide_takes_the_reference_decisions_on_random_orders(seed):
    rng = random.Random(seed)
    outcomes = set()
    for _ in range(500):
        facts, lines, cands = _scenario(rng)
        profile = _profile(rng)
        expected = _run(ref, facts, lines, cands, profile)
        assert _run(_Current, facts, lines, cands, profile) == expected
        outcomes.add(expected[0] if expected[0] == "decision" else expected[3])
    # the scenarios reach every kind of answer
    assert {"decision", "insufficient_stock"} <= outcomes


def _location_rows(rng: random.Random) -> list[tuple]:
    """Rows as ``load_candidates``' PostgreSQL statement gives them: one per location, its stock rows in arrays."""
    rows = []
    for loc in range(1, rng.randint(0, 25) + 1):
        pids = rng.sample(range(1, 9), rng.randint(1, 4))
        ages = rng.choice((None, [rng.choice((None, rng.random() * 300)) for _ in pids], [rng.random() * 9 for _ in pids]))
        rows.append((loc, f"L{loc}", rng.choice(("store", "dc")), rng.choice((None, 41.5)), rng.choice((None, 29.1)),
                     rng.choice((None, 0, 10)), rng.choice((None, 0, 1.5, 2)), rng.choice((None, 0, 3)),
                     rng.choice((None, rng.random() * 900)), pids, [rng.randint(1, 50) for _ in pids], ages,
                     [loc * 100 + p for p in pids], [rng.choice((0, 0, 2, 7, -1 if rng.random() < 0.05 else 0)) for _ in pids]))
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_location_rows_make_the_general_paths_candidates(seed):
    rng = random.Random(seed)
    for _ in range(300):
        rows = _location_rows(rng)
        made = engine._location_candidates(rows)
        assert made == engine._candidates_from_rows(rows)
        assert [type(v) for c in made for v in c.stock_rows.values()] == [tuple] * sum(len(c.stock_rows) for c in made)


def test_criteria_built_from_the_cache_match_a_fresh_build():
    rng = random.Random(7)
    specs = [_profile(rng).criteria for _ in range(300)]
    for spec in specs + specs:  # the second round is served from the cache (the first, partly)
        fresh, built = crit._build_criteria(spec), crit.build_criteria(spec)
        assert [(type(c), c.weight, c.params) for c in built] == [(type(c), c.weight, c.params) for c in fresh]
        assert all(a is not b and a.params is not b.params for a, b in zip(built, crit.build_criteria(spec)))
    # the same text with another type is not the same spec: a bool weight is refused, cached or not
    crit.build_criteria([{"name": "proximity", "weight": 1}])
    with pytest.raises(OmniError, match="weight"):
        crit.build_criteria([{"name": "proximity", "weight": True}])
    with pytest.raises(OmniError, match="twice"):
        crit.build_criteria([{"name": "cost"}, {"name": "cost"}])


def test_stored_scores_round_as_the_reference():
    rng = random.Random(3)
    values = [1.0, 0.0, -0.0, 0.5, 0.99995, 0.00005, 1e-9, 2.0, 0.3333333333333333] + [rng.random() for _ in range(300)]
    for i in range(0, len(values), 7):
        scores = {f"c{j}": v for j, v in enumerate(values[i:i + 7])}
        got = engine.CandidateScore(1, "L", 1.23456789, scores, 12.345, 2).as_dict()
        want = ref.CandidateScore(1, "L", 1.23456789, dict(scores), 12.345, 2).as_dict()
        assert got == want and repr(got) == repr(want)  # (repr: -0.0 stays -0.0)
