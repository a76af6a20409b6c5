"""Safety-stock policies and their dynamic modifiers.

A policy is one row per scope key:

- ``location``: SKU × location. Its quantity is kept back at that location from every channel and from
  reservations (``available = on_hand − reserved − safety stock``, floored at 0).
- ``channel``: SKU × channel. The total buffer that channel's ATP keeps for the SKU.
- ``pool``: SKU over the whole pool. The buffer every channel without a SKU × channel policy keeps.

``effective_quantity`` is materialized: the services recompute it when a policy, a modifier or the
demand history changes (nightly), so ATP is a join, not a computation. See
``allocation/safety_stock/formulas.py`` for the precedence and the formulas.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class SafetyStockScope(models.TextChoices):
    LOCATION = "location", "SKU × location"
    CHANNEL = "channel", "SKU × channel"
    POOL = "pool", "SKU × pool"


class SafetyStockMethod(models.TextChoices):
    STATIC = "static", "Static quantity"
    STATISTICAL = "statistical", "Statistical (Z × σ × √lead time)"


class SafetyStockPolicy(models.Model):
    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="safety_stock_policies")
    scope = models.CharField(max_length=10, choices=SafetyStockScope.choices)
    location = models.ForeignKey("inventory.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey("allocation.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=12, choices=SafetyStockMethod.choices, default=SafetyStockMethod.STATIC)
    quantity = models.PositiveIntegerField(default=0, help_text="Static method: units to keep back.")
    service_level = models.DecimalField(
        max_digits=5, decimal_places=2, default=95, help_text="Statistical method: target service level in percent (e.g. 95)."
    )
    lead_time_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Statistical method: replenishment lead time; empty = the product's lead time."
    )
    demand_sigma = models.FloatField(null=True, blank=True, editable=False, help_text="σ of daily demand, last computed.")
    demand_days = models.PositiveIntegerField(default=0, editable=False, help_text="Days of history behind σ.")
    computed_quantity = models.PositiveIntegerField(
        null=True, blank=True, editable=False, help_text="Statistical result (Z × σ × √L) before modifiers."
    )
    override_quantity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Merchandiser override: when set, exactly this many units are kept back."
    )
    effective_quantity = models.PositiveIntegerField(default=0, editable=False, help_text="What ATP deducts today.")
    explanation = models.CharField(max_length=255, blank=True, default="", editable=False)
    computed_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name_plural = "safety stock policies"
        ordering = ["product_id", "scope", "location_id", "channel_id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="location") & Q(location__isnull=False) & Q(channel__isnull=True))
                | (Q(scope="channel") & Q(location__isnull=True) & Q(channel__isnull=False))
                | (Q(scope="pool") & Q(location__isnull=True) & Q(channel__isnull=True)),
                name="ss_policy_scope_keys",
            ),
            models.CheckConstraint(condition=Q(service_level__gt=50) & Q(service_level__lt=100), name="ss_policy_service_level"),
            models.UniqueConstraint(fields=["product", "location"], condition=Q(scope="location"), name="ss_policy_unique_location"),
            models.UniqueConstraint(fields=["product", "channel"], condition=Q(scope="channel"), name="ss_policy_unique_channel"),
            models.UniqueConstraint(fields=["product"], condition=Q(scope="pool"), name="ss_policy_unique_pool"),
        ]

    def __str__(self) -> str:
        where = "pool"
        if self.scope == "location" and self.location is not None:
            where = self.location.code
        elif self.scope == "channel" and self.channel is not None:
            where = self.channel.code
        return f"SS {self.product_id}@{where}: {self.effective_quantity}"


class SafetyStockModifierKind(models.TextChoices):
    PRE_SEASON = "pre_season", "Pre-season uplift"
    CAMPAIGN = "campaign", "Campaign uplift"
    END_OF_SEASON = "end_of_season", "End-of-season reduction"
    NEW_PRODUCT = "new_product", "New product: conservative minimum"


class SafetyStockModifier(models.Model):
    """A dated adjustment of safety stock for one SKU, one season, or every SKU.

    Uplifts multiply by (1 + percent/100), reductions by (1 − percent/100); a new-product modifier
    raises the quantity to at least ``min_quantity`` for SKUs launched fewer than
    ``allocation.safety_stock.formulas.NEW_PRODUCT_DAYS`` days ago (too little history for σ).
    """

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=SafetyStockModifierKind.choices)
    percent = models.DecimalField(max_digits=6, decimal_places=2, default=0, help_text="Uplift or reduction in percent.")
    min_quantity = models.PositiveIntegerField(default=0, help_text="New product: keep at least this many units.")
    product = models.ForeignKey("inventory.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    season = models.CharField(max_length=32, blank=True, default="", help_text="Only SKUs of this season (empty: any).")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Inclusive; empty = open-ended.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["starts_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(percent__gte=0) & Q(percent__lte=1000), name="ss_modifier_percent_range"),
            models.CheckConstraint(condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")), name="ss_modifier_dates"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"
