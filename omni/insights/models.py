"""Daily KPI snapshots: additive facts per day × metric × channel × location.

Every row is recomputable from the ledger, orders, fulfillment events, cycle counts and the sync
log (``omni.insights.facts``); no counter is kept by hand. Being additive (a count, a total and,
for durations, a histogram of fixed buckets), facts sum over any date range and any filter
(channel, location, location kind) without going back to the raw rows."""

from __future__ import annotations

from django.db import models


class KpiFact(models.Model):
    day = models.DateField()
    metric = models.CharField(max_length=32)
    channel = models.ForeignKey("allocation.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey("inventory.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    count = models.BigIntegerField(default=0, help_text="Numerator (or the amount, for sums).")
    total = models.BigIntegerField(default=0, help_text="Denominator (or the second sum).")
    peak = models.BigIntegerField(null=True, blank=True, help_text="Largest single value (durations).")
    hist = models.JSONField(null=True, blank=True, help_text="Durations: counts per fixed bucket index.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "KPI snapshot"
        verbose_name_plural = "KPI snapshots"
        indexes = [models.Index(fields=["day", "metric"], name="kpifact_day_metric")]

    def __str__(self) -> str:
        return f"{self.day} {self.metric}: {self.count}/{self.total}"
