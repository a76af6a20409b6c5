"""Stock accuracy per location (share of cycle counts without variance over ``ACCURACY_DAYS``),
materialized in ``LocationAccuracyStat`` for the accuracy haircut.

``location_accuracy_refresh`` recomputes it in one grouped query, and writes outbox rows for the SKUs
at every location that crossed a haircut channel's threshold (its ATP moved)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from inventory.counting.models import CountTask, CountTaskStatus
from inventory.counting.services import count_task_approve, count_task_submit
from inventory.models import CycleCount

from allocation.channels.models import Channel
from allocation.channels.services import outbox_for_locations

from .models import LocationAccuracyStat
from .selectors import ACCURACY_DAYS


def _below(counts: int, accurate: int, threshold) -> bool:
    return counts > 0 and accurate * 100 < threshold * counts


def location_accuracy_refresh(*, now: datetime | None = None) -> int:
    """Returns how many locations crossed a threshold (their SKUs are queued for republishing)."""
    now = now or timezone.now()
    since = now - timedelta(days=ACCURACY_DAYS)
    fresh = {
        r["stock_level__location_id"]: (r["n"], r["ok"])
        for r in CycleCount.objects.filter(counted_at__gte=since).order_by().values("stock_level__location_id")
        .annotate(n=Count("id"), ok=Count("id", filter=Q(variance=0)))
    }
    thresholds = set(Channel.objects.filter(accuracy_haircut_enabled=True, is_active=True).values_list("accuracy_threshold_percent", flat=True))
    with transaction.atomic():
        old = {s.location_id: (s.counts, s.accurate) for s in LocationAccuracyStat.objects.select_for_update()}
        crossed = {
            loc for loc in set(old) | set(fresh)
            if any(_below(*old.get(loc, (0, 0)), t) != _below(*fresh.get(loc, (0, 0)), t) for t in thresholds)
        }
        LocationAccuracyStat.objects.exclude(location_id__in=list(fresh)).delete()
        LocationAccuracyStat.objects.bulk_create(
            [LocationAccuracyStat(location_id=loc, counts=n, accurate=ok, computed_at=now) for loc, (n, ok) in fresh.items()],
            update_conflicts=True, unique_fields=["location"], update_fields=["counts", "accurate", "computed_at"],
        )
        if crossed:
            outbox_for_locations(crossed, "accuracy")
    return len(crossed)


def count_task_submit_scored(*, task: CountTask | int, counts: Mapping[str, int], actor: Any = None,
                             now: datetime | None = None) -> CountTask:
    """A blind count entered (``inventory.counting.services.count_task_submit``); when it was
    approved at once (every line within tolerance), the location's stock accuracy is refreshed."""
    task = count_task_submit(task=task, counts=counts, actor=actor)
    if task.status == CountTaskStatus.APPROVED:
        location_accuracy_refresh(now=now)
    return task


def count_task_approve_scored(*, task: CountTask | int, actor: Any = None, now: datetime | None = None) -> CountTask:
    """A counted task approved (its variances posted to the ledger) and the stock accuracy refreshed."""
    task = count_task_approve(task=task, actor=actor)
    location_accuracy_refresh(now=now)
    return task
