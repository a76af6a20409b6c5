"""Admin for channels, visibility, quotas, location groups, and the ATP explorer.

Thin: saves go through the services (which write the outbox), the explorer renders
``allocation.availability.explain.atp_explain``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from omni.admin import ImportExportModelAdmin, ModelAdmin, TabularInline

from allocation.availability.explain import atp_explain
from allocation.channels.models import Channel, ChannelQuota, ChannelVisibility, LocationGroup, SyncMode
from allocation.channels.selectors import channel_has_history
from allocation.channels.services import (
    ATP_SETTINGS,
    channel_atp_settings_update,
    channel_delete,
    channel_quota_delete,
    channel_quota_set,
    channel_republish,
    channel_visibility_add,
    channel_visibility_remove,
    location_group_set_locations,
)
from inventory.models import Product
from omni.errors import OmniError

from .resources import ChannelVisibilityResource


class ChannelVisibilityInline(TabularInline):
    model = ChannelVisibility
    extra = 1
    fields = ["location", "group"]


class ChannelQuotaInline(TabularInline):
    model = ChannelQuota
    extra = 0
    fields = ["product", "min_share_percent", "is_active"]
    raw_id_fields = ["product"]


@admin.register(Channel)
class ChannelAdmin(ModelAdmin):
    # seven columns that fit beside the sidebar at 1280 px; the figures are on the channel's page
    list_display = ["code", "name", "kind", "is_active", "allows_dropship", "sync", "when_short"]
    list_filter = ["kind", "is_active", "sync_mode"]
    search_fields = ["code", "name"]
    inlines = [ChannelVisibilityInline, ChannelQuotaInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "is_active", "allows_dropship"]}),
        ("Priorities when stock is short", {"fields": ["margin_rank", "strategic_priority", "scarcity_threshold", "shortage_policy"]}),
        ("Sync", {"fields": ["sync_mode", "sync_window_seconds", "sync_interval_seconds"]}),
        ("ATP refinements", {"fields": ["lag_buffer_enabled", "accuracy_haircut_enabled", "accuracy_threshold_percent",
                                        "accuracy_haircut_percent"]}),
    ]

    actions = ["deactivate"]

    @admin.display(description="Sync", ordering="sync_mode")
    def sync(self, obj: Channel) -> str:
        """"Near-real-time · 2 s", "Batch · every 15 min" on one line (the mode's label without its gloss)."""
        label = str(obj.get_sync_mode_display()).split(" (")[0]
        if obj.sync_mode == SyncMode.NEAR_REALTIME:
            label += f" · {obj.sync_window_seconds} s"
        elif obj.sync_mode == SyncMode.BATCH:
            minutes, seconds = divmod(obj.sync_interval_seconds, 60)
            label += f" · every {minutes} min" if not seconds else f" · every {obj.sync_interval_seconds} s"
        return format_html('<span style="white-space:nowrap">{}</span>', label)

    @admin.display(description="When stock is short")
    def when_short(self, obj: Channel) -> str:
        """Its ranks and the ATP refinements it uses, in a sentence."""
        parts = [f"margin rank {obj.margin_rank}, strategic rank {obj.strategic_priority}"]
        extras = [name for on, name in ((obj.lag_buffer_enabled, "lag buffer"), (obj.accuracy_haircut_enabled, "accuracy haircut")) if on]
        if extras:
            parts.append(" and ".join(extras))
        return "; ".join(parts)

    def has_delete_permission(self, request, obj=None) -> bool:
        """A channel with history (orders, holds, sync messages) is deactivated, never deleted."""
        if obj is not None and channel_has_history(channel=obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one by one, from the channel's page: each is checked for history
        return actions

    def delete_model(self, request, obj) -> None:
        channel_delete(channel=obj)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except OmniError as exc:  # it gained history since the page was opened: nothing was deleted
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:allocation_channel_change", args=[object_id]))

    @admin.action(description="Deactivate: stop selling and syncing (history stays)")
    def deactivate(self, request, queryset):
        done = 0
        for channel in queryset.filter(is_active=True):
            try:
                channel_atp_settings_update(channel=channel, is_active=False)
                done += 1
            except OmniError as exc:  # pragma: no cover - is_active is always a valid setting
                self.message_user(request, f"{channel.code}: {exc.message}", level=messages.ERROR)
        self.message_user(request, f"{done} channel(s) deactivated.")

    def get_urls(self):
        urls = [path("atp-explorer/", self.admin_site.admin_view(self.atp_explorer_view), name="allocation_atp_explorer")]
        return urls + super().get_urls()

    def atp_explorer_view(self, request):
        sku = (request.GET.get("sku") or "").strip()
        context = {**self.admin_site.each_context(request), "title": "ATP explorer", "sku": sku, "explanation": None, "error": ""}
        if sku:
            product = Product.objects.filter(sku=sku).first()
            if product is None:
                context["error"] = f"Unknown SKU {sku!r}."
            else:
                context["explanation"] = atp_explain(product=product)
        return TemplateResponse(request, "admin/allocation/atp_explorer.html", context)

    def changelist_view(self, request, extra_context=None):
        messages.info(request, format_html('Explain one SKU\'s ATP: <a href="{}">ATP explorer</a>.', reverse("admin:allocation_atp_explorer")))
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        obj._republish = change and bool(ATP_SETTINGS.intersection(form.changed_data))

    def save_formset(self, request, form, formset, change):
        """Visibility and quota rows go through the services (which write the outbox)."""
        if formset.model is ChannelVisibility:
            instances = formset.save(commit=False)
            for rule in formset.deleted_objects:
                channel_visibility_remove(rule=rule)
            for rule in instances:
                if rule.pk:
                    channel_visibility_remove(rule=ChannelVisibility.objects.get(pk=rule.pk))
                channel_visibility_add(channel=form.instance, location=rule.location, group=rule.group)
        elif formset.model is ChannelQuota:
            instances = formset.save(commit=False)
            for quota in formset.deleted_objects:
                channel_quota_delete(quota=quota)
            for quota in instances:
                channel_quota_set(channel=form.instance, product=quota.product, min_share_percent=quota.min_share_percent,
                                  is_active=quota.is_active)
        else:  # pragma: no cover
            super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if getattr(form.instance, "_republish", False):
            count = channel_republish(channel=form.instance)
            messages.info(request, f"ATP settings changed: {count} SKU(s) queued for republishing.")


class LocationGroupForm(forms.ModelForm):
    class Meta:
        model = LocationGroup
        fields = ["code", "name", "locations"]


@admin.register(LocationGroup)
class LocationGroupAdmin(ModelAdmin):
    form = LocationGroupForm
    list_display = ["code", "name", "size"]
    search_fields = ["code", "name"]
    filter_horizontal = ["locations"]

    @admin.display(description="Locations")
    def size(self, obj):
        return obj.locations.count()

    def save_related(self, request, form, formsets, change):
        # members through the service (republishes SKUs at locations that joined or left)
        location_group_set_locations(group=form.instance, locations=form.cleaned_data["locations"])
        for formset in formsets:
            self.save_formset(request, form, formset, change)


@admin.register(ChannelVisibility)
class ChannelVisibilityAdmin(ImportExportModelAdmin):
    resource_classes = [ChannelVisibilityResource]
    list_display = ["channel", "location", "group"]
    list_filter = ["channel"]
    list_select_related = ["channel", "location", "group"]

    def save_model(self, request, obj, form, change):
        if change:
            channel_visibility_remove(rule=ChannelVisibility.objects.get(pk=obj.pk))
        rule = channel_visibility_add(channel=obj.channel, location=obj.location, group=obj.group)
        obj.pk = rule.pk

    def delete_model(self, request, obj):
        channel_visibility_remove(rule=obj)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            channel_visibility_remove(rule=rule)
