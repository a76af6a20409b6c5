"""How the benchmarks summarise what they measured."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-quantile (0 < q ≤ 1) of ``values``; 0.0 when there are none.

    ``q`` is a fraction, not a percent: ``percentile(x, 95)`` used to answer the maximum without a
    word (the rank clamps to the last value), so a p95 silently became the worst latency. A ``q``
    outside (0, 1] is refused instead.
    """
    if not 0 < q <= 1:
        raise ValueError(f"percentile takes a fraction 0 < q ≤ 1 (0.95 for p95), not {q!r}")
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(max(math.ceil(q * len(ordered)) - 1, 0), len(ordered) - 1)]


def load_average() -> float:
    """The machine's 1-minute load average (the benchmarks report it: the machine is shared)."""
    return round(os.getloadavg()[0], 2)
