"""The check against theory: the square-root pooling law (Eppen 1979).

N locations each facing demand with standard deviation σ over a lead time L keep
``N · z·σ·√L`` units of safety stock when each covers its own demand, but only
``z·σ·√(N·L)`` when the N are one pool (independent demand), i.e. ``1/√N`` as much; with a pairwise
correlation ρ the pooled figure is ``z·σ·√L·√(N + N(N−1)ρ)``. At the same service level the
expected lost sales per cycle, ``σ_L·G(z)`` (G the standard normal loss function), shrink in the
same proportion.

``pooling_check`` draws a single SKU's daily demand at N locations with the simulation's own
generator, sizes safety stock with Omni's formulas (``allocation.safety_stock.formulas``: the
sample σ of daily demand over a history window, ``ceil(z·σ·√L)``) once per location and once for
the pool, and then runs order-up-to cycles of L days to count the units each setup fails to sell.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist

from allocation.safety_stock import formulas

from .demand import correlated_series, shock_variance_for


@dataclass(frozen=True)
class PoolingCheck:
    locations: int
    correlation: float
    service_level: float
    lead_time_days: int
    history_days: int
    cycles: int
    safety_stock_siloed: int  # Σ over locations of each one's own safety stock
    safety_stock_pooled: int
    lost_siloed: int  # units demanded but not in stock, over all cycles, every location on its own
    lost_pooled: int  # … the same demand served from one pool
    demand: int
    mean_daily: float  # per location
    shock_variance: float  # of the common demand shock (0 when independent)

    @property
    def expected_ratio(self) -> float:
        """What theory says pooled / siloed should be: √(N + N(N−1)ρ) / N."""
        n, rho = self.locations, self.correlation
        return math.sqrt(n + n * (n - 1) * rho) / n

    @property
    def safety_stock_ratio(self) -> float:
        return self.safety_stock_pooled / self.safety_stock_siloed

    @property
    def lost_sales_ratio(self) -> float:
        return self.lost_pooled / self.lost_siloed

    @property
    def expected_lost_siloed(self) -> float:
        """Theory's lost units for the siloed setup, per the normal loss function."""
        z = formulas.z_for_service_level(self.service_level)
        pdf, cdf = math.exp(-z * z / 2) / math.sqrt(2 * math.pi), NormalDist().cdf(z)
        loss = pdf - z * (1 - cdf)
        # Var of a location's lead-time demand: L·λ(1 + λv) (Poisson-Gamma, one shock a day).
        sigma_l = math.sqrt(self.mean_daily * self.lead_time_days * (1 + self.mean_daily * self.shock_variance))
        return self.cycles * self.locations * sigma_l * loss


def pooling_check(
    *, locations: int = 16, mean_daily: float = 20.0, correlation: float = 0.0, lead_time_days: int = 7,
    service_level: float = 90.0, history_days: int = 365, cycles: int = 3000, seed: int = 1,
) -> PoolingCheck:
    rng = random.Random(seed)
    history = correlated_series(rng=rng, locations=locations, mean=mean_daily, correlation=correlation, days=history_days)

    def safety_stock(series: list[int]) -> tuple[int, float]:
        total, squares = float(sum(series)), float(sum(q * q for q in series))
        sigma = formulas.daily_sigma(total=total, total_of_squares=squares, days=history_days)
        return (formulas.statistical_quantity(service_level=service_level, sigma=sigma, lead_time_days=lead_time_days),
                total / history_days)

    per_location = [safety_stock([day[i] for day in history]) for i in range(locations)]
    pooled_ss, pooled_mean = safety_stock([sum(day) for day in history])
    # Order-up-to levels: the expected lead-time demand plus safety stock. The law is about safety
    # stock, so the mean is the known one: an estimated mean would add its own sampling error
    # (± σ/√history per day) to both setups and blur the comparison.
    cycle_stock = round(mean_daily * lead_time_days)
    levels = [cycle_stock + ss for ss, _mean in per_location]
    pooled_level = cycle_stock * locations + pooled_ss

    lost_siloed = lost_pooled = demand = 0
    for _ in range(cycles):
        days = correlated_series(rng=rng, locations=locations, mean=mean_daily, correlation=correlation, days=lead_time_days)
        per = [sum(day[i] for day in days) for i in range(locations)]
        total = sum(per)
        demand += total
        lost_siloed += sum(max(d - s, 0) for d, s in zip(per, levels, strict=True))
        lost_pooled += max(total - pooled_level, 0)
    return PoolingCheck(
        locations=locations, correlation=correlation, service_level=service_level, lead_time_days=lead_time_days,
        history_days=history_days, cycles=cycles, safety_stock_siloed=sum(ss for ss, _m in per_location),
        safety_stock_pooled=pooled_ss, lost_siloed=lost_siloed, lost_pooled=lost_pooled, demand=demand,
        mean_daily=mean_daily, shock_variance=shock_variance_for(correlation=correlation, rate=mean_daily),
    )
