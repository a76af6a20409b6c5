"""Admin for channels, visibility, quotas, location groups, safety stock, and the ATP explorer.

Thin: forms validate through the services' validators, saves go through the services (which write
the outbox), the explorer renders ``allocation.explorer.atp_explain``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportExportModelAdmin

from inventory.models import Product
from omni.errors import OmniError

from .channel_services import (
    ATP_SETTINGS,
    channel_quota_delete,
    channel_quota_set,
    channel_republish,
    channel_visibility_add,
    channel_visibility_remove,
    location_group_set_locations,
)
from .explorer import atp_explain
from .models import Channel, ChannelQuota, ChannelVisibility, LocationGroup
from .accuracy import location_accuracy_refresh
from .models_safety import LocationAccuracyStat, SafetyStockModifier, SafetyStockPolicy
from .resources import ChannelVisibilityResource, SafetyStockPolicyResource
from .safety_services import (
    safety_stock_modifier_delete,
    safety_stock_modifier_set,
    safety_stock_modifier_validate,
    safety_stock_policy_delete,
    safety_stock_policy_set,
    safety_stock_policy_validate,
    safety_stock_recompute,
)



class ChannelVisibilityInline(admin.TabularInline):
    model = ChannelVisibility
    extra = 1
    fields = ["location", "group"]


class ChannelQuotaInline(admin.TabularInline):
    model = ChannelQuota
    extra = 0
    fields = ["product", "min_share_percent", "is_active"]
    raw_id_fields = ["product"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "is_active", "allows_dropship", "sync_mode", "lag_buffer_enabled",
                    "accuracy_haircut_enabled", "scarcity_threshold", "margin_rank", "strategic_priority"]
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
class LocationGroupAdmin(admin.ModelAdmin):
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


class SafetyStockPolicyForm(forms.ModelForm):
    class Meta:
        model = SafetyStockPolicy
        fields = ["product", "scope", "location", "channel", "method", "quantity", "service_level", "lead_time_days",
                  "override_quantity"]

    def clean(self):
        data = super().clean()
        try:
            safety_stock_policy_validate(
                product=data.get("product"), scope=data.get("scope"), location=data.get("location"),
                channel=data.get("channel"), method=data.get("method"), quantity=data.get("quantity") or 0,
                service_level=data.get("service_level") or 95, lead_time_days=data.get("lead_time_days"),
                override_quantity=data.get("override_quantity"),
            )
        except OmniError as exc:
            raise ValidationError({k: v for k, v in exc.details.items() if k in self.fields} or exc.message) from None
        return data


@admin.register(SafetyStockPolicy)
class SafetyStockPolicyAdmin(ImportExportModelAdmin):
    form = SafetyStockPolicyForm
    resource_classes = [SafetyStockPolicyResource]
    list_display = ["product", "scope", "location", "channel", "method", "quantity", "computed_quantity", "override_quantity",
                    "effective_quantity", "explanation", "explore"]
    list_filter = ["scope", "method", "channel"]
    list_select_related = ["product", "location", "channel"]
    search_fields = ["product__sku", "location__code", "channel__code"]
    raw_id_fields = ["product"]
    readonly_fields = ["demand_sigma", "demand_days", "computed_quantity", "effective_quantity", "explanation", "computed_at",
                       "updated_by", "updated_at"]
    actions = ["recompute"]

    @admin.display(description="ATP")
    def explore(self, obj):
        return format_html('<a href="{}?sku={}">explain</a>', reverse("admin:allocation_atp_explorer"), obj.product.sku)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            old = SafetyStockPolicy.objects.get(pk=obj.pk)
            if (old.product_id, old.scope, old.location_id, old.channel_id) != (obj.product_id, obj.scope, obj.location_id, obj.channel_id):
                safety_stock_policy_delete(policy=old)
        saved = safety_stock_policy_set(
            product=data["product"], scope=data["scope"], location=data.get("location"), channel=data.get("channel"),
            method=data["method"], quantity=data.get("quantity") or 0, service_level=data.get("service_level") or 95,
            lead_time_days=data.get("lead_time_days"), override_quantity=data.get("override_quantity"), actor=request.user,
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        safety_stock_policy_delete(policy=obj)

    def delete_queryset(self, request, queryset):
        for policy in queryset:
            safety_stock_policy_delete(policy=policy)

    @admin.action(description="Recompute safety stock now (statistical σ and modifiers)")
    def recompute(self, request, queryset):
        result = safety_stock_recompute(product_ids=set(queryset.values_list("product_id", flat=True)))
        self.message_user(request, f"Recomputed {result.policies} policies; {result.changed} SKU(s) changed.")


class SafetyStockModifierForm(forms.ModelForm):
    class Meta:
        model = SafetyStockModifier
        fields = ["name", "kind", "percent", "min_quantity", "product", "season", "starts_on", "ends_on", "is_active"]

    def clean(self):
        data = super().clean()
        try:
            safety_stock_modifier_validate(
                name=data.get("name") or "", kind=data.get("kind") or "", percent=data.get("percent") or 0,
                min_quantity=data.get("min_quantity") or 0, starts_on=data.get("starts_on"), ends_on=data.get("ends_on"),
            )
        except OmniError as exc:
            raise ValidationError({k: v for k, v in exc.details.items() if k in self.fields} or exc.message) from None
        return data


@admin.register(SafetyStockModifier)
class SafetyStockModifierAdmin(admin.ModelAdmin):
    form = SafetyStockModifierForm
    list_display = ["name", "kind", "percent", "min_quantity", "product", "season", "starts_on", "ends_on", "is_active"]
    list_filter = ["kind", "is_active"]
    raw_id_fields = ["product"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = safety_stock_modifier_set(
            name=data["name"], kind=data["kind"], percent=data["percent"], min_quantity=data["min_quantity"],
            product=data.get("product"), season=data.get("season") or "", starts_on=data["starts_on"],
            ends_on=data.get("ends_on"), is_active=data["is_active"],
            modifier=SafetyStockModifier.objects.get(pk=obj.pk) if change else None,
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        safety_stock_modifier_delete(modifier=obj)


@admin.register(LocationAccuracyStat)
class LocationAccuracyStatAdmin(admin.ModelAdmin):
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
