"""How long a store keeps a ready pickup: a reminder after N hours, expiry after N days — its own
``PickupPolicy`` or the defaults (``OMNI_PICKUP_REMINDER_HOURS`` / ``OMNI_PICKUP_EXPIRY_DAYS``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from fulfillment.models import PickupPolicy, Work


@dataclass(frozen=True)
class PickupTimings:
    reminder_after: timedelta
    expire_after: timedelta

    def expires_at(self, ready_at: datetime) -> datetime:
        return ready_at + self.expire_after


def default_timings() -> PickupTimings:
    return PickupTimings(timedelta(hours=settings.OMNI_PICKUP_REMINDER_HOURS), timedelta(days=settings.OMNI_PICKUP_EXPIRY_DAYS))


def pickup_timings(*, location_ids: Iterable[int]) -> dict[int, PickupTimings]:
    """The timings of each of these stores (one query)."""
    ids = set(location_ids)
    default = default_timings()
    found = {p.location_id: PickupTimings(timedelta(hours=p.reminder_after_hours), timedelta(days=p.expire_after_days))
             for p in PickupPolicy.objects.filter(location_id__in=ids)}
    return {loc: found.get(loc, default) for loc in ids}


def pickup_store_id(work: Work) -> int:
    """Where the customer collects (and where the goods wait)."""
    return work.pickup_location_id or work.location_id
