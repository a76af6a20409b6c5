"""Stock accuracy per location, materialized for the ATP accuracy haircut."""

from __future__ import annotations

from django.db import models


class LocationAccuracyStat(models.Model):
    """Stock accuracy per location from cycle counts, materialized by
    ``allocation.accuracy.services.location_accuracy_refresh`` (beat: every 15 minutes) so that ATP reads
    50 rows instead of aggregating the count history on every request."""

    location = models.OneToOneField("inventory.Location", on_delete=models.CASCADE, primary_key=True, related_name="+")
    counts = models.PositiveIntegerField(default=0)
    accurate = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "stock accuracy of a location"
        verbose_name_plural = "stock accuracy by location"

    def __str__(self) -> str:
        return f"{self.location_id}: {self.accurate}/{self.counts}"
