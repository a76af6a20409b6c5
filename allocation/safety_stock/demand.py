"""Demand history read from the ledger (SALE + FULFILMENT movements of the on-hand bucket), aggregated
in SQL, and the pooling effect it implies for safety stock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from inventory.models import MovementReason, Product, StockMovement

from . import formulas

DEMAND_REASONS = (MovementReason.SALE, MovementReason.FULFILMENT)


def window(today: date, days: int) -> tuple[datetime, datetime]:
    """The ``days`` whole UTC days before ``today``."""
    end = datetime.combine(today, time.min, tzinfo=dt_timezone.utc)
    return end - timedelta(days=days), end


def demand_sums(*, keys: dict[str, Any], product_ids: list[int] | None, start: datetime, end: datetime) -> dict[tuple, tuple[float, float]]:
    """{key tuple: (Σ daily units, Σ daily units²)} over [start, end), grouped by ``keys`` (name →
    expression over StockMovement). One query: daily totals in a derived table, summed again outside."""
    inner = StockMovement.objects.filter(bucket="on_hand", reason__in=DEMAND_REASONS, created_at__gte=start, created_at__lt=end)
    if product_ids is not None:
        inner = inner.filter(stock_level__product_id__in=product_ids)
    inner = inner.order_by().annotate(**keys, day=TruncDate("created_at")).values(*keys.keys(), "day").annotate(q=Sum("quantity"))
    sql, params = inner.query.sql_with_params()
    cols = ", ".join(f"t.{connection.ops.quote_name(k)}" for k in keys)
    outer = f"SELECT {cols}, SUM(-t.q), SUM(t.q * t.q) FROM ({sql}) t GROUP BY {cols}"
    with connection.cursor() as cursor:
        cursor.execute(outer, params)
        return {tuple(row[: len(keys)]): (float(row[-2] or 0), float(row[-1] or 0)) for row in cursor.fetchall()}


@dataclass(frozen=True)
class PoolingEffect:
    """Statistical safety stock held per location vs once for the whole pool, for one SKU."""

    product_id: int
    service_level: Decimal
    lead_time_days: int
    days: int
    per_location: dict[int, int]  # location id → SS from that location's own demand
    pool: int

    @property
    def sum_of_locations(self) -> int:
        return sum(self.per_location.values())

    @property
    def saving(self) -> int:
        return self.sum_of_locations - self.pool


def pooling_effect(*, product: Product, service_level: Decimal = Decimal(95), lead_time_days: int | None = None,
                   days: int = formulas.DEFAULT_WINDOW_DAYS, today: date | None = None) -> PoolingEffect:
    start, end = window(today or timezone.now().date(), days)
    lead = product.lead_time_days if lead_time_days is None else lead_time_days
    per_loc = demand_sums(keys={"lid": F("stock_level__location_id")}, product_ids=[product.pk], start=start, end=end)
    pool = demand_sums(keys={"pid": F("stock_level__product_id")}, product_ids=[product.pk], start=start, end=end)

    def ss(sums: tuple[float, float]) -> int:
        sigma = formulas.daily_sigma(total=sums[0], total_of_squares=sums[1], days=days)
        return formulas.statistical_quantity(service_level=service_level, sigma=sigma, lead_time_days=lead)

    return PoolingEffect(
        product_id=product.pk, service_level=service_level, lead_time_days=lead, days=days,
        per_location={key[0]: ss(sums) for key, sums in sorted(per_loc.items())},
        pool=ss(pool.get((product.pk,), (0.0, 0.0))),
    )
