"""Admin for safety-stock policies and modifiers. Forms validate through the services' validators;
saves and deletes go through the services (which recompute and write the outbox).

Policies and modifiers keep their delete: they are settings, not history (nothing refers to a
policy; what it kept back is not recorded anywhere else), and deleting one republishes the SKUs
whose ATP it moved."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from omni.admin import DefaultListFilter, ImportExportModelAdmin, ModelAdmin

from allocation.safety_stock.formulas import z_for_service_level
from allocation.safety_stock.models import SafetyStockMethod, SafetyStockModifier, SafetyStockPolicy, SafetyStockScope
from allocation.safety_stock.services import (
    safety_stock_modifier_delete,
    safety_stock_modifier_set,
    safety_stock_modifier_validate,
    safety_stock_policy_delete,
    safety_stock_policy_set,
    safety_stock_policy_validate,
    safety_stock_recompute,
)
from omni.errors import OmniError

from .resources import SafetyStockPolicyResource


def _units(n: int) -> str:
    return "1 unit" if n == 1 else f"{n} units"


def policy_in_words(policy: SafetyStockPolicy) -> str:
    """How a policy reached what it keeps back, as a merchandiser says it: "1.64 × σ 0.29 a day ×
    √14 days lead time (95 % service level) = 2, then +20 % (Autumn campaign)". The figures are the
    policy's own (σ, lead time, service level); the modifier steps are the recompute's."""
    if policy.override_quantity is not None:
        return f"set by hand to {_units(policy.override_quantity)} (the formula says {_units(policy.computed_quantity or 0)})"
    steps = (policy.explanation or "").split(" → ")[1:]  # the first step is the base, said here in words
    if policy.method == SafetyStockMethod.STATISTICAL:
        if policy.computed_at is None:
            return "not computed yet (the nightly recompute fills it in)"
        lead = policy.lead_time_days if policy.lead_time_days is not None else policy.product.lead_time_days
        if not policy.demand_sigma:
            base = f"no sales variation in the last {policy.demand_days} days, so nothing for uncertainty"
        else:
            z = z_for_service_level(policy.service_level)
            base = (f"{z:.2f} × σ {policy.demand_sigma:.2g} a day × √{lead} days lead time "
                    f"({policy.service_level.normalize():f} % service level)")
            if steps:
                base += f" = {policy.computed_quantity or 0}"
    else:
        base = f"a fixed {_units(policy.quantity)}"
    return ", then ".join([base, *(step.split(" = ")[0] for step in steps)])


class SafetyStockPolicyForm(forms.ModelForm):
    class Meta:
        model = SafetyStockPolicy
        fields = ["product", "scope", "location", "channel", "method", "quantity", "service_level", "lead_time_days",
                  "override_quantity"]

    def clean(self):
        data = super().clean() or {}
        try:
            safety_stock_policy_validate(
                product=data.get("product"), scope=data.get("scope") or "", location=data.get("location"),
                channel=data.get("channel"), method=data.get("method") or "", quantity=data.get("quantity") or 0,
                service_level=data.get("service_level") or 95, lead_time_days=data.get("lead_time_days"),
                override_quantity=data.get("override_quantity"),
            )
        except OmniError as exc:
            raise ValidationError({k: v for k, v in exc.details.items() if k in self.fields} or exc.message) from None
        return data


class AppliesToFilter(DefaultListFilter):
    """Opens on the pool policies (one per SKU), not on every SKU at every store."""

    title, parameter_name, default = "applies to", "applies_to", SafetyStockScope.POOL
    default_description = "the policies for the whole pool"

    def lookups(self, request, model_admin):
        return [(SafetyStockScope.POOL, "The whole pool"), (SafetyStockScope.LOCATION, "One location"),
                (SafetyStockScope.CHANNEL, "One channel")]

    def filter(self, queryset, value):
        return queryset.filter(scope=value)


@admin.register(SafetyStockPolicy)
class SafetyStockPolicyAdmin(ImportExportModelAdmin):
    form = SafetyStockPolicyForm
    resource_classes = [SafetyStockPolicyResource]
    # What a merchandiser reads first, in words, fitting at 1366 px: the SKU, where it applies, what it
    # keeps back today, how that was reached; the figures themselves are on the policy's page.
    list_display = ["sku", "applies_to", "keeps_back", "how", "explore"]
    list_filter = [AppliesToFilter, "method", "location", "channel"]
    list_select_related = ["product", "location", "channel"]
    search_fields = ["product__sku", "location__code", "channel__code"]
    raw_id_fields = ["product"]
    readonly_fields = ["demand_sigma", "demand_days", "computed_quantity", "effective_quantity", "explanation", "computed_at",
                       "updated_by", "updated_at"]
    actions = ["recompute"]

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>', obj.product.sku)

    @admin.display(description="Applies to", ordering="scope")
    def applies_to(self, obj):
        if obj.scope == SafetyStockScope.LOCATION and obj.location is not None:
            return f"stock at {obj.location.code}"
        if obj.scope == SafetyStockScope.CHANNEL and obj.channel is not None:
            return f"what {obj.channel.code} may sell"
        return "the whole pool"

    @admin.display(description="Keeps back today", ordering="effective_quantity")
    def keeps_back(self, obj):
        units = "1 unit" if obj.effective_quantity == 1 else f"{obj.effective_quantity} units"
        return f"{units} (set by hand)" if obj.override_quantity is not None else units

    @admin.display(description="How")
    def how(self, obj):
        return policy_in_words(obj)

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
        data = super().clean() or {}
        try:
            safety_stock_modifier_validate(
                name=data.get("name") or "", kind=data.get("kind") or "", percent=data.get("percent") or 0,
                min_quantity=data.get("min_quantity") or 0, starts_on=data.get("starts_on"), ends_on=data.get("ends_on"),
            )
        except OmniError as exc:
            raise ValidationError({k: v for k, v in exc.details.items() if k in self.fields} or exc.message) from None
        return data


@admin.register(SafetyStockModifier)
class SafetyStockModifierAdmin(ModelAdmin):
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
