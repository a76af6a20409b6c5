"""Alerts: something a merchandiser must look at (ledger drift, dead-lettered channel pushes);
moved here from channel sync with its rows."""

from __future__ import annotations

from django.db import models


class AlertKind(models.TextChoices):
    LEDGER_DRIFT = "ledger_drift", "Stock figure differs from its ledger"
    SYNC_DEAD_LETTER = "sync_dead_letter", "Channel message given up (dead letter)"


class Alert(models.Model):
    """Something a merchandiser must look at (ledger drift, dead-lettered pushes)."""

    kind = models.CharField(max_length=32, db_index=True, choices=AlertKind.choices)
    message = models.CharField(max_length=255)
    details = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.message
