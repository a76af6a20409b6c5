"""Admin for inbound stock snapshots: the lines that wait for approval, approve / reject."""

from __future__ import annotations

from django.contrib import admin

from omni.admin import ModelAdmin, TabularInline, admin_apply_each

from .models import SnapshotLineStatus, StockSnapshot, StockSnapshotLine
from .services import snapshot_line_approve, snapshot_line_reject


class StockSnapshotLineInline(TabularInline):
    model = StockSnapshotLine
    extra = 0
    can_delete = False
    readonly_fields = ("product", "counted", "system_quantity", "variance", "status", "error", "decided_by", "decided_at")
    fields = readonly_fields


@admin.register(StockSnapshot)
class StockSnapshotAdmin(ModelAdmin):
    list_display = ("id", "location", "source", "external_id", "received_at")
    inlines = [StockSnapshotLineInline]
    readonly_fields = ("location", "source", "external_id", "actor")


@admin.register(StockSnapshotLine)
class StockSnapshotLineAdmin(ModelAdmin):
    list_display = ("id", "snapshot", "product", "counted", "system_quantity", "variance", "status", "error")
    list_filter = ("status",)
    search_fields = ("product__sku",)
    list_select_related = ("snapshot", "product")
    actions = ("approve", "reject")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _decide(self, request, queryset, decide, verb: str) -> None:
        admin_apply_each(self, request, queryset.filter(status=SnapshotLineStatus.PENDING),
                         lambda line: decide(line=line, actor=request.user), label="Line", verb=verb)

    @admin.action(description="Approve: apply the counted variance")
    def approve(self, request, queryset):
        self._decide(request, queryset, snapshot_line_approve, "approved")

    @admin.action(description="Reject: keep the ledger figure")
    def reject(self, request, queryset):
        self._decide(request, queryset, snapshot_line_reject, "rejected")
