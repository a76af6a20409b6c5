"""python manage.py kpi_backfill [--days 90]: recompute the daily KPI snapshots from the raw rows."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from omni.insights.services import kpi_backfill


class Command(BaseCommand):
    help = "Recompute the daily KPI snapshots of the last N days (default 90) from the ledger, orders, fulfillment and sync log."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=90)

    def handle(self, *args, days: int, **options) -> None:
        rows = kpi_backfill(days=days)
        self.stdout.write(f"KPI snapshots: {days} day(s) recomputed, {rows} fact row(s).")
