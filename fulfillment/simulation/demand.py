"""Seeded demand for the simulation: every draw comes from one ``random.Random`` per stream, so the
same seed gives the same demand to both policies, whatever each policy does with it.

Store demand of a SKU on a day is Poisson around ``rate × season(day) × weekday(day) × g`` where
``g`` is a Gamma-distributed shock with mean 1 and variance ``v`` shared by every store that day
(a regional trend, the weather, a campaign): the mixture is negative binomial, and two stores'
demand is correlated with ``ρ = λv / (1 + λv)`` (equal rates λ). ``shock_variance_for`` turns a
target correlation into ``v``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

# Normal approximation above this mean (Knuth's product method is exact but O(λ)).
_KNUTH_LIMIT = 30.0
WEEKDAY = (0.85, 0.85, 0.9, 0.95, 1.1, 1.3, 1.05)  # Monday … Sunday; averages 1.0


def poisson(rng: random.Random, lam: float) -> int:
    """One Poisson draw: exact (Knuth) for λ < 30, else the rounded normal approximation N(λ, λ)."""
    if lam <= 0:
        return 0
    if lam < _KNUTH_LIMIT:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))


def gamma_shock(rng: random.Random, variance: float) -> float:
    """A multiplier with mean 1 and the given variance (1 when the variance is 0)."""
    if variance <= 0:
        return 1.0
    return rng.gammavariate(1.0 / variance, variance)


def shock_variance_for(*, correlation: float, rate: float) -> float:
    """The shock variance ``v`` that makes two stores' daily demand (rate λ each) correlate by ρ:
    ``ρ = λv / (1 + λv)`` → ``v = ρ / (λ(1 − ρ))``."""
    if correlation <= 0 or rate <= 0:
        return 0.0
    if correlation >= 1:
        raise ValueError("correlation must be below 1")
    return correlation / (rate * (1.0 - correlation))


def season_curve(day: int, days: int) -> float:
    """The season's shape, mean ≈ 1: builds up over the first fifth, peaks mid-season, fades at
    the end (when markdowns lift it again, see ``markdown_lift``)."""
    if days <= 1:
        return 1.0
    x = day / (days - 1)
    return 0.55 + 0.9 * math.sin(math.pi * min(max(x, 0.0), 1.0)) ** 1.5


def markdown_lift(price_cut: float, elasticity: float = 2.0) -> float:
    """Demand multiplier of a price cut (0.3 = 30 % off) at a constant price elasticity."""
    return (1.0 - price_cut) ** (-elasticity) if price_cut > 0 else 1.0


@dataclass(frozen=True)
class DailyDemand:
    """One day's demand: ``store[s][k]`` units of SKU k walking into store s."""

    day: int
    store: list[list[int]]


def store_demand(
    *, rng: random.Random, rates: Sequence[Sequence[float]], multiplier: Sequence[float], shock_variance: Sequence[float],
) -> list[list[int]]:
    """One day's walk-in demand: ``rates[s][k]`` base units per day of SKU k at store s, times the
    day's ``multiplier[k]`` and a shock per SKU shared by all stores (variance ``shock_variance[k]``)."""
    skus = len(multiplier)
    shocks = [gamma_shock(rng, shock_variance[k]) * multiplier[k] for k in range(skus)]
    return [[poisson(rng, row[k] * shocks[k]) for k in range(skus)] for row in rates]


def correlated_series(
    *, rng: random.Random, locations: int, mean: float, correlation: float, days: int,
) -> list[list[int]]:
    """``days`` × ``locations`` daily demand of one SKU, Poisson-Gamma with pairwise correlation ρ."""
    v = shock_variance_for(correlation=correlation, rate=mean)
    out = []
    for _ in range(days):
        g = gamma_shock(rng, v)
        out.append([poisson(rng, mean * g) for _ in range(locations)])
    return out


def weighted_choice(rng: random.Random, cumulative: Sequence[float]) -> int:
    """Index drawn with the weights whose running sums are ``cumulative`` (last = total)."""
    import bisect

    return min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)
