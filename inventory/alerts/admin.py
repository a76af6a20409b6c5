"""Admin for alerts: list and acknowledge."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from omni.admin import ModelAdmin

from .models import Alert


@admin.register(Alert)
class AlertAdmin(ModelAdmin):
    """Alerts are raised by the checks, never typed in: no add page; acknowledging is the one change."""

    empty_message = "No alerts: the nightly ledger check raises one when a stock figure and its ledger disagree."
    list_display = ("id", "kind", "message", "created_at", "acknowledged_at")
    list_filter = ("kind", "acknowledged_at")
    readonly_fields = ("kind", "message", "details", "created_at", "acknowledged_at")
    actions = ("acknowledge",)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Acknowledge")
    def acknowledge(self, request, queryset):
        count = queryset.filter(acknowledged_at__isnull=True).update(acknowledged_at=timezone.now())
        self.message_user(request, f"{count} alert(s) acknowledged.")
