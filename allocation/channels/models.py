"""Channels and which locations they may sell from."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from inventory.models import Location


class ChannelKind(models.TextChoices):
    WEBSHOP = "webshop", "Own web shop"
    MARKETPLACE = "marketplace", "Marketplace"
    POS = "pos", "Store POS"
    APP = "app", "App"
    B2B = "b2b", "B2B"


class SyncMode(models.TextChoices):
    REALTIME = "realtime", "Real-time"
    NEAR_REALTIME = "near_realtime", "Near-real-time (coalescing window)"
    BATCH = "batch", "Batch (interval)"


class ShortagePolicy(models.TextChoices):
    BACKORDER = "backorder", "Backorder"
    REJECT = "reject", "Reject"


class Channel(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    is_active = models.BooleanField(default=True)
    allows_dropship = models.BooleanField(default=False, help_text="May sell drop-ship supplier stock (virtual stock).")
    margin_rank = models.PositiveSmallIntegerField(default=100, help_text="1 = highest margin; used when stock is short.")
    strategic_priority = models.PositiveSmallIntegerField(default=100, help_text="1 = most strategic; used when stock is short.")
    sync_mode = models.CharField(max_length=16, choices=SyncMode.choices, default=SyncMode.NEAR_REALTIME)
    sync_window_seconds = models.PositiveIntegerField(default=2, help_text="Near-real-time: coalesce bursts within this window.")
    sync_interval_seconds = models.PositiveIntegerField(default=900, help_text="Batch: push every this many seconds.")
    scarcity_threshold = models.PositiveIntegerField(
        default=0, help_text="When this channel's ATP of a SKU falls below this, priority rules decide who gets it (0 = never)."
    )
    shortage_policy = models.CharField(
        max_length=12, choices=ShortagePolicy.choices, default=ShortagePolicy.REJECT,
        help_text="What happens to an order of this channel that loses a scarce SKU.",
    )
    # ATP refinements (allocation issue), each switchable per channel.
    lag_buffer_enabled = models.BooleanField(
        default=False, help_text="Publish ATP minus the expected sales of each SKU during one sync period (from its velocity)."
    )
    accuracy_haircut_enabled = models.BooleanField(
        default=False, help_text="Count stock at locations with poor cycle-count accuracy at a discount."
    )
    accuracy_threshold_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=95, help_text="Locations measured below this stock accuracy are discounted."
    )
    accuracy_haircut_percent = models.PositiveSmallIntegerField(
        default=50, help_text="Discount applied to available stock at an inaccurate location (50 = counts half)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(accuracy_haircut_percent__lte=100), name="channel_haircut_percent_range"),
            models.CheckConstraint(
                condition=Q(accuracy_threshold_percent__gte=0) & Q(accuracy_threshold_percent__lte=100),
                name="channel_accuracy_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class ChannelQuota(models.Model):
    """A minimum share of a SKU's pool kept for this channel (e.g. 30% for stores): other channels'
    ATP does not count it. ``product`` empty means every SKU."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="quotas")
    product = models.ForeignKey("inventory.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    min_share_percent = models.DecimalField(max_digits=5, decimal_places=2)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(min_share_percent__gte=0) & Q(min_share_percent__lte=100), name="quota_share_range"
            ),
            models.UniqueConstraint(fields=["channel", "product"], name="quota_unique_channel_product"),
            models.UniqueConstraint(fields=["channel"], condition=Q(product__isnull=True), name="quota_unique_channel_default"),
        ]

    def __str__(self) -> str:
        return f"{self.channel.code}: ≥{self.min_share_percent}% of {self.product or 'every SKU'}"


class LocationGroup(models.Model):
    """A named set of locations (e.g. "all ship-from-store stores") to manage visibility at scale."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    locations = models.ManyToManyField(Location, related_name="groups", blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ChannelVisibility(models.Model):
    """One rule: this channel may sell from this location, or from every location of this group."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="visibility_rules")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(LocationGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name_plural = "channel visibility"
        constraints = [
            models.CheckConstraint(
                condition=(Q(location__isnull=False) & Q(group__isnull=True)) | (Q(location__isnull=True) & Q(group__isnull=False)),
                name="visibility_location_xor_group",
            ),
            models.UniqueConstraint(fields=["channel", "location"], condition=Q(location__isnull=False), name="visibility_unique_location"),
            models.UniqueConstraint(fields=["channel", "group"], condition=Q(group__isnull=False), name="visibility_unique_group"),
        ]

    def __str__(self) -> str:
        return f"{self.channel.code} → {self.location or self.group}"
