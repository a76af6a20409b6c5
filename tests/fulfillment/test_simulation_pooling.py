"""The simulation against theory: Eppen's (1979) square-root pooling law, with Omni's safety-stock
formulas sizing the stock and the simulation's own demand generator drawing the demand.

Tolerances, stated: safety stock is estimated from a history of 1,000 days, so each σ carries a
sampling error of about 1/√(2·999) ≈ 2.2 %, and each figure is rounded up to whole units (half a
unit per location on average): the safety-stock ratio must be within 8 % of theory. Lost sales are
counted over 4,000 cycles; they react steeply to the safety stock (a 2 % error in σ moves the
pooled loss by about 5 %) and Poisson demand is discrete and skewed: within 20 % of theory (over
seeds 1–6 the independent case lands between −1 % and +18 %). With correlated stores (ρ = 0.3)
the common shock is Gamma, far from normal: within 25 %.
"""

from __future__ import annotations

import math

import pytest

from fulfillment.simulation.demand import correlated_series, poisson, shock_variance_for
from fulfillment.simulation.pooling import pooling_check


def test_pooled_safety_stock_and_lost_sales_follow_the_square_root_law():
    check = pooling_check(locations=16, mean_daily=20.0, correlation=0.0, lead_time_days=7, service_level=90,
                          history_days=1000, cycles=4000, seed=3)
    assert check.expected_ratio == pytest.approx(1 / math.sqrt(16))  # 0.25
    assert check.safety_stock_ratio == pytest.approx(0.25, rel=0.08)
    # Each store on its own loses what the normal loss function says (σ_L·G(z) a cycle, 16 stores) …
    assert check.lost_siloed == pytest.approx(check.expected_lost_siloed, rel=0.05)
    # … and the pool, with a quarter of the safety stock, loses a quarter of that.
    assert check.lost_sales_ratio == pytest.approx(0.25, rel=0.20)
    assert check.lost_pooled < check.lost_siloed / 3


def test_correlated_stores_pool_less_as_theory_says():
    check = pooling_check(locations=16, mean_daily=20.0, correlation=0.3, lead_time_days=7, service_level=90,
                          history_days=1000, cycles=3000, seed=3)
    expected = math.sqrt(16 + 16 * 15 * 0.3) / 16  # 0.586: correlation eats most of the pooling gain
    assert check.expected_ratio == pytest.approx(expected)
    assert check.safety_stock_ratio == pytest.approx(expected, rel=0.08)
    assert check.lost_sales_ratio == pytest.approx(expected, rel=0.25)
    assert check.lost_sales_ratio > 0.4  # far from the independent case's 0.25


def test_the_generator_draws_the_correlation_it_is_asked_for():
    import random

    rng = random.Random(5)
    rows = correlated_series(rng=rng, locations=2, mean=4.0, correlation=0.4, days=20000)
    a, b = [r[0] for r in rows], [r[1] for r in rows]
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b)) / len(a)
    va, vb = sum((x - ma) ** 2 for x in a) / len(a), sum((y - mb) ** 2 for y in b) / len(b)
    assert ma == pytest.approx(4.0, rel=0.03)
    assert cov / math.sqrt(va * vb) == pytest.approx(0.4, abs=0.04)
    assert shock_variance_for(correlation=0.0, rate=4.0) == 0.0
    draws = [poisson(rng, 2.5) for _ in range(20000)]
    assert sum(draws) / len(draws) == pytest.approx(2.5, rel=0.03)
