"""Sync tables: per-channel endpoint settings, per (channel, SKU) publish state, and the message
log (which is the push queue, the dead-letter list and the pull feed at once)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

__all__ = [
    "EndpointMode", "ChannelSync", "SyncState", "MessageKind", "MessageStatus", "SyncMessage",
]


class EndpointMode(models.TextChoices):
    DELTA = "delta", "Deltas (preferred)"
    ABSOLUTE = "absolute", "Absolute figures (held back by in-flight orders)"


class ChannelSync(models.Model):
    """How a channel receives availability: an optional webhook, its secret and mode.

    Without ``url`` the channel only polls the delta feed or takes the snapshot file.
    """

    channel = models.OneToOneField("allocation.Channel", on_delete=models.CASCADE, related_name="sync_config")
    url = models.URLField(blank=True, help_text="Webhook URL; empty = the channel polls the delta feed.")
    secret = models.CharField(max_length=128, blank=True, help_text="HMAC-SHA256 key for the X-Omni-Signature header.")
    mode = models.CharField(max_length=8, choices=EndpointMode.choices, default=EndpointMode.DELTA)
    is_active = models.BooleanField(default=True)
    timeout_seconds = models.FloatField(default=5.0)
    max_attempts = models.PositiveSmallIntegerField(default=8, help_text="Failed pushes before a message is dead-lettered.")
    holdback_units = models.PositiveIntegerField(
        default=0,
        help_text="Absolute mode only: units held back per SKU for the channel's orders still in flight (lag-aware buffer).",
    )
    realtime_velocity_classes = models.CharField(
        max_length=3, default="A", blank=True,
        help_text="Batch channels: velocity classes that still go out near-real-time (e.g. 'A').",
    )
    batch_full = models.BooleanField(
        default=False, help_text="Batch channels: each batch sends every SKU's figure where it differs (else only changed SKUs).",
    )
    event_sequence = models.PositiveBigIntegerField(default=0)
    last_batch_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "channel sync endpoint"

    def __str__(self) -> str:
        return f"sync → {self.channel_id}: {self.url or 'feed only'} ({self.mode})"


class SyncState(models.Model):
    """Per (channel, SKU): the last published figure, its sequence, and whether a change waits."""

    # no index of its own: the unique (channel, product) leads with it
    channel = models.ForeignKey("allocation.Channel", on_delete=models.CASCADE, related_name="+", db_index=False)
    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+")
    sequence = models.PositiveBigIntegerField(default=0)
    published = models.IntegerField(null=True, blank=True, help_text="Last figure published to the channel.")
    dirty_since = models.DateTimeField(null=True, blank=True, help_text="Commit time of the oldest unpublished change.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "product"], name="syncstate_unique_channel_product")]
        indexes = [models.Index(fields=["channel", "dirty_since"], condition=Q(dirty_since__isnull=False), name="syncstate_dirty")]


class MessageKind(models.TextChoices):
    AVAILABILITY = "availability", "Availability"
    EVENT = "event", "Order/fulfilment event"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending push"
    SENT = "sent", "Acknowledged"
    DEAD = "dead", "Dead-lettered"
    SUPERSEDED = "superseded", "Superseded by a newer figure"
    FEED = "feed", "Feed only (no webhook)"


class SyncMessage(models.Model):
    """One change for one channel, in publish order (``id`` is the feed cursor)."""

    # no index of its own: ``syncmessage_feed`` (channel, id) leads with it
    channel = models.ForeignKey("allocation.Channel", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.AVAILABILITY)
    product = models.ForeignKey("inventory.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    sequence = models.PositiveBigIntegerField()
    available = models.IntegerField(null=True, blank=True)
    delta = models.IntegerField(null=True, blank=True)
    event = models.CharField(max_length=32, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    changed_at = models.DateTimeField(help_text="Commit time of the oldest stock change this message carries.")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=12, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True, default="")
    acked_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Stock change commit → channel acknowledgement.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "product", "sequence"], condition=Q(kind="availability"), name="syncmessage_unique_seq"
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "id"], name="syncmessage_feed"),
            models.Index(fields=["channel", "id"], condition=Q(status="pending"), name="syncmessage_pending"),
            models.Index(fields=["channel", "acked_at"], condition=Q(latency_ms__isnull=False), name="syncmessage_latency"),
        ]

    def __str__(self) -> str:
        what = self.event if self.kind == MessageKind.EVENT else f"{self.product_id}={self.available}"
        return f"#{self.pk} {what} seq {self.sequence} ({self.status})"
