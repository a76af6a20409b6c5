"""Admin for stock accuracy per location (read-only, with a refresh action)."""

from __future__ import annotations

from django.contrib import admin

from omni.admin import ModelAdmin

from allocation.accuracy.models import LocationAccuracyStat
from allocation.accuracy.services import location_accuracy_refresh


@admin.register(LocationAccuracyStat)
class LocationAccuracyStatAdmin(ModelAdmin):
    """Read-only: what the accuracy haircut reads (refreshed every 15 minutes, or now by the action)."""

    list_display = ["location", "counts", "accurate", "percent", "computed_at"]
    list_select_related = ["location"]
    actions = ["refresh"]

    @admin.display(description="Accuracy %")
    def percent(self, obj):
        return f"{obj.accurate * 100 / obj.counts:.2f}" if obj.counts else "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Refresh stock accuracy from cycle counts now")
    def refresh(self, request, queryset):
        crossed = location_accuracy_refresh()
        self.message_user(request, f"Stock accuracy refreshed; {crossed} location(s) crossed a haircut threshold.")
