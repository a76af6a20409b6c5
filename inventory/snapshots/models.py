"""Inbound stock snapshots: a location system's full count, line by line against the ledger, the
lines with a large variance waiting for a merchandiser (moved here from channel sync with their
rows)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class StockSnapshot(models.Model):
    """A full count posted by a location system (POS, WMS)."""

    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=64, default="omni")
    external_id = models.CharField(max_length=128, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "inbound stock snapshot"
        verbose_name_plural = "inbound stock snapshots"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], condition=~Q(external_id=""), name="snapshot_idempotent"),
        ]

    def __str__(self) -> str:
        return f"Snapshot #{self.pk} of {self.location_id}"


class SnapshotLineStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    UNCHANGED = "unchanged", "Matched the ledger"
    PENDING = "pending", "Waits for approval"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Could not apply"


class StockSnapshotLine(models.Model):
    snapshot = models.ForeignKey(StockSnapshot, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    counted = models.PositiveIntegerField()
    system_quantity = models.IntegerField(help_text="Ledger on-hand when the snapshot arrived.")
    variance = models.IntegerField(help_text="counted − system")
    status = models.CharField(max_length=10, choices=SnapshotLineStatus.choices)
    error = models.CharField(max_length=255, blank=True, default="")
    cycle_count = models.ForeignKey("inventory.CycleCount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status"], condition=Q(status="pending"), name="snapshotline_pending")]

    def __str__(self) -> str:
        return f"{self.product_id}: counted {self.counted}, system {self.system_quantity} ({self.status})"
