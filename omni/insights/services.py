"""Writes of the insights app: the daily KPI snapshots (idempotent: a day is replaced whole)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from .facts import facts_for_days
from .models import KpiFact


def kpi_snapshot_day(*, day: date) -> int:
    """Recompute one day's facts from the raw rows and replace that day's snapshot. Returns the rows written."""
    return kpi_snapshot_days(days=[day])


def kpi_snapshot_days(*, days: list[date]) -> int:
    written = 0
    for day_facts in facts_for_days(days):
        facts = [
            KpiFact(day=day_facts.day, metric=f.metric, channel_id=f.channel_id, location_id=f.location_id,
                    count=f.count, total=f.total, peak=f.peak, hist=f.hist)
            for f in day_facts
        ]
        with transaction.atomic():
            KpiFact.objects.filter(day=day_facts.day).delete()
            KpiFact.objects.bulk_create(facts, batch_size=2000)
        written += len(facts)
    return written


def kpi_snapshot_recent(*, days: int = 2) -> int:
    """Today so far and the days before it (late events - a pickup collected, a push acknowledged -
    still land on them): what the beat job runs."""
    today = timezone.now().date()
    return kpi_snapshot_days(days=[today - timedelta(days=i) for i in range(days)])


def kpi_backfill(*, days: int = 90, until: date | None = None) -> int:
    until = until or timezone.now().date()
    return kpi_snapshot_days(days=[until - timedelta(days=i) for i in range(days)])
