"""Admin for channel sync: endpoints (CSV download, full resync), the message log with the
dead-letter list and its resend action."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import StreamingHttpResponse

from omni.admin import ModelAdmin

from .models import ChannelSync, MessageStatus, SyncMessage
from .feed import availability_snapshot_csv
from .publish import sync_channel_publish
from .push import sync_messages_resend


@admin.register(ChannelSync)
class ChannelSyncAdmin(ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a webhook without a scheme is https
    list_display = ("channel", "url", "mode", "is_active", "holdback_units", "realtime_velocity_classes", "last_batch_at")
    list_filter = ("mode", "is_active")
    readonly_fields = ("event_sequence", "last_batch_at")
    actions = ("download_csv", "full_resync", "initial_load")

    @admin.action(description="Download the availability CSV (first selected channel)")
    def download_csv(self, request, queryset):
        cfg = queryset.select_related("channel").first()
        response = StreamingHttpResponse(availability_snapshot_csv(channel=cfg.channel), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="availability-{cfg.channel.code}.csv"'
        return response

    @admin.action(description="Send every SKU's current figure (initial load of a new endpoint)")
    def initial_load(self, request, queryset):
        total = sum(sync_channel_publish(channel=cfg.channel, full=True, force=True) for cfg in queryset.select_related("channel"))
        self.message_user(request, f"{total} figure(s) queued.")

    @admin.action(description="Publish every SKU's figure where it differs (full resync)")
    def full_resync(self, request, queryset):
        total = sum(sync_channel_publish(channel=cfg.channel, full=True) for cfg in queryset.select_related("channel"))
        self.message_user(request, f"{total} change(s) published.")


@admin.register(SyncMessage)
class SyncMessageAdmin(ModelAdmin):
    list_display = ("id", "channel", "kind", "product", "event", "sequence", "available", "delta", "status", "attempts",
                    "latency_ms", "last_error", "created_at")
    list_filter = ("status", "kind", "channel")
    search_fields = ("product__sku", "event")
    list_select_related = ("channel", "product")
    actions = ("resend",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Resend the selected dead-lettered messages")
    def resend(self, request, queryset):
        count = sync_messages_resend(message_ids=queryset.filter(status=MessageStatus.DEAD).values_list("id", flat=True))
        self.message_user(request, f"{count} message(s) queued again.")
