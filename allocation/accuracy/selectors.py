"""Stock accuracy per location as last materialized (``LocationAccuracyStat``), for the haircut."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .models import LocationAccuracyStat

ACCURACY_DAYS = 90  # the window of cycle counts an accuracy figure covers


@dataclass(frozen=True)
class LocationAccuracy:
    counts: int
    accurate: int

    @property
    def percent(self) -> Decimal:
        return (Decimal(self.accurate) * 100 / self.counts).quantize(Decimal("0.01")) if self.counts else Decimal(100)


def location_accuracy(*, now: datetime | None = None, location_ids: Iterable[int] | None = None) -> dict[int, LocationAccuracy]:
    """Stock accuracy per location as last materialized by ``allocation.accuracy.services.location_accuracy_refresh``
    (counts without variance / counts over the last ACCURACY_DAYS days)."""
    qs = LocationAccuracyStat.objects.all()
    if location_ids is not None:
        qs = qs.filter(location_id__in=list(location_ids))
    return {loc: LocationAccuracy(counts=n, accurate=ok) for loc, n, ok in qs.values_list("location_id", "counts", "accurate")}
