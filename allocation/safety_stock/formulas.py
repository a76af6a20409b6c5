"""Safety stock: the formulas and the precedence of scopes. Pure functions, no database.

Precedence (what ATP deducts, most specific first):

1. **SKU × location** policies set a *floor* at that location. It binds every channel and every
   reservation: ``available(location) = max(on_hand − reserved − floor, 0)``.
2. **SKU × channel** policy, if the channel has one for the SKU, sets the total buffer that
   channel's ATP keeps back for the SKU. Without one, the SKU's **pool** policy sets it (the same
   buffer for every channel, and for the total pool).
3. The location floors actually deducted at the locations a channel sees count toward that buffer:
   the extra deduction is ``max(buffer − Σ deducted floors, 0)``. So where scopes overlap the most
   specific one decides, and no unit is kept back twice.

The quantity of one policy:

- **override** (merchandiser): when set, exactly that many units, nothing else applies;
- else the base: ``quantity`` (static) or ``ceil(Z × σ(daily demand) × √lead time days)``
  (statistical, Z = NormalDist().inv_cdf(service level), σ the sample standard deviation of daily
  SALE + FULFILMENT units over the recompute window, days without sales counting as 0);
- then modifiers in force today: a *new product* modifier raises it to at least its
  ``min_quantity`` while the SKU was launched fewer than ``NEW_PRODUCT_DAYS`` days ago; *pre-season*
  and *campaign* uplifts multiply by ``1 + p/100``; an *end-of-season* reduction by ``1 − p/100``
  (never below 0); the product is rounded up to whole units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from statistics import NormalDist

NEW_PRODUCT_DAYS = 28
DEFAULT_WINDOW_DAYS = 56

UPLIFT_KINDS = frozenset({"pre_season", "campaign"})
REDUCTION_KINDS = frozenset({"end_of_season"})


def z_for_service_level(service_level_percent: Decimal | float) -> float:
    """Z-score of a one-sided service level: 95 → 1.645, 99 → 2.326, 50 → 0."""
    p = float(service_level_percent) / 100
    if not 0 < p < 1:
        raise ValueError(f"service level must be between 0 and 100 exclusive, got {service_level_percent}")
    return NormalDist().inv_cdf(p)


def daily_sigma(*, total: float, total_of_squares: float, days: int) -> float:
    """Sample standard deviation of daily demand over ``days`` days, from Σq and Σq² of the days
    that had demand (the other days count as 0)."""
    if days < 2:
        return 0.0
    variance = (total_of_squares - total * total / days) / (days - 1)
    return math.sqrt(max(variance, 0.0))


def statistical_quantity(*, service_level: Decimal | float, sigma: float, lead_time_days: int) -> int:
    """ceil(Z × σ × √L), never below 0."""
    value = z_for_service_level(service_level) * sigma * math.sqrt(max(lead_time_days, 0))
    return max(math.ceil(round(value, 6)), 0)


@dataclass(frozen=True)
class ModifierView:
    """What the formula needs of a ``SafetyStockModifier``."""

    id: int
    name: str
    kind: str
    percent: Decimal
    min_quantity: int
    product_id: int | None
    season: str
    starts_on: date
    ends_on: date | None

    def applies(self, *, product_id: int, season: str, today: date) -> bool:
        if self.product_id is not None and self.product_id != product_id:
            return False
        if self.season and self.season != season:
            return False
        return self.starts_on <= today and (self.ends_on is None or today <= self.ends_on)


def is_new_product(*, launched_on: date | None, today: date) -> bool:
    return launched_on is not None and (today - launched_on).days < NEW_PRODUCT_DAYS


def effective_quantity(
    *, base: int, override: int | None, modifiers: Iterable[ModifierView], product_id: int, season: str,
    launched_on: date | None, today: date, base_label: str = "base",
) -> tuple[int, str]:
    """The quantity a policy keeps back today, and a one-line explanation of how it was reached."""
    if override is not None:
        return override, f"merchandiser override {override}"
    quantity = Decimal(base)
    steps = [f"{base_label} {base}"]
    active = [m for m in modifiers if m.applies(product_id=product_id, season=season, today=today)]
    if is_new_product(launched_on=launched_on, today=today):
        for m in active:
            if m.kind == "new_product" and m.min_quantity > quantity:
                quantity = Decimal(m.min_quantity)
                steps.append(f"new product ≥ {m.min_quantity} ({m.name})")
    for m in active:
        if m.kind in UPLIFT_KINDS:
            quantity *= 1 + m.percent / 100
            steps.append(f"+{m.percent.normalize():f}% ({m.name})")
        elif m.kind in REDUCTION_KINDS:
            quantity *= max(1 - m.percent / 100, Decimal(0))
            steps.append(f"−{m.percent.normalize():f}% ({m.name})")
    result = int(quantity.to_integral_value(rounding=ROUND_CEILING))
    explanation = " → ".join(steps)
    if len(steps) > 1:
        explanation += f" = {result}"
    return max(result, 0), explanation[:255]
