"""Admin for channel sync: endpoints (CSV download, full resync), the message log with the
dead-letter list and its resend action."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db import models
from django.db.models import Case, IntegerField, Value, When
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html

from omni.admin import DefaultListFilter, ModelAdmin

from .models import ChannelSync, MessageKind, MessageStatus, SyncMessage
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


class SinceFilter(DefaultListFilter):
    """Opens on the last 24 hours of stock changes (the log keeps two weeks: hundreds of thousands of rows)."""

    title, parameter_name, default = "stock changed", "since", "24h"
    default_description = "the last 24 hours"
    SPANS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}

    def lookups(self, request, model_admin):
        return [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]

    def filter(self, queryset, value):
        span = self.SPANS.get(value)
        return queryset if span is None else queryset.filter(changed_at__gte=timezone.now() - span)


@admin.register(SyncMessage)
class SyncMessageAdmin(ModelAdmin):
    """Not-sent messages (dead letters, failures, pending) first, then the newest; one line each."""

    list_display = ("changed", "channel_code", "what", "status", "attempts", "latency", "last_error")
    list_filter = (SinceFilter, "status", "kind", "channel")
    search_fields = ("product__sku", "event")
    list_select_related = ("channel", "product")
    list_per_page = 25  # a phone shows each row as a card
    actions = ("resend",)

    def get_queryset(self, request):
        sent_last = Case(When(status=MessageStatus.SENT, then=Value(1)), default=Value(0), output_field=IntegerField())
        return super().get_queryset(request).annotate(sent_last=sent_last).order_by("sent_last", "-changed_at", "-id")

    @admin.display(description="Stock changed", ordering="changed_at")
    def changed(self, obj: SyncMessage) -> str:
        return format_html('<span style="white-space:nowrap">{}</span>', timezone.localtime(obj.changed_at).strftime("%d %b %H:%M:%S"))

    @admin.display(description="Channel", ordering="channel__code")
    def channel_code(self, obj: SyncMessage) -> str:
        return obj.channel.code

    @admin.display(description="What")
    def what(self, obj: SyncMessage) -> str:
        if obj.kind == MessageKind.AVAILABILITY and obj.product is not None:
            figure = f"{obj.available} available" if obj.available is not None else f"{obj.delta:+d}" if obj.delta is not None else ""
            return format_html('<span style="white-space:nowrap">{} · {} <span class="text-base-500">#{}</span></span>',
                               obj.product.sku, figure, obj.sequence)
        return format_html("{} <span class=\"text-base-500\">#{}</span>", obj.event or obj.get_kind_display(), obj.sequence)

    @admin.display(description="Latency", ordering="latency_ms")
    def latency(self, obj: SyncMessage) -> str:
        if obj.latency_ms is None:
            return "–"
        return f"{obj.latency_ms / 1000:.1f} s" if obj.latency_ms < 120_000 else f"{obj.latency_ms / 60_000:.0f} min"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Resend the selected dead-lettered messages")
    def resend(self, request, queryset):
        count = sync_messages_resend(message_ids=queryset.filter(status=MessageStatus.DEAD).values_list("id", flat=True))
        self.message_user(request, f"{count} message(s) queued again.")
