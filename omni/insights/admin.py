"""Admin for insights: the KPI snapshots (read-only, for operations) and the dashboard's CSV export URL."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import path

from omni.admin import PlumbingAdmin

from .models import KpiFact
from .services import kpi_snapshot_recent
from .views import dashboard_csv


@admin.register(KpiFact)
class KpiFactAdmin(PlumbingAdmin):
    list_display = ["day", "metric", "channel", "location", "count", "total", "peak", "computed_at"]
    list_filter = ["metric"]
    list_select_related = ["channel", "location"]
    date_hierarchy = "day"
    actions = ["refresh"]

    def get_urls(self):
        return [path("dashboard.csv", self.admin_site.admin_view(dashboard_csv), name="insights_dashboard_csv"),
                *super().get_urls()]

    @admin.action(description="Recompute today's and yesterday's KPI snapshots now")
    def refresh(self, request, queryset):
        rows = kpi_snapshot_recent(days=2)
        messages.success(request, f"KPI snapshots recomputed: {rows} fact row(s).")
