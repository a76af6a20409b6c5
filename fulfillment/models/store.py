"""A store's own settings for its staff pages."""

from __future__ import annotations

from django.db import models

from inventory.models import Location


class StoreSettings(models.Model):
    """How a store works its queue. No row: the defaults."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, primary_key=True, related_name="+")
    require_scanning = models.BooleanField(
        default=False, help_text="Units are picked only by scanning their barcode (no manual quantities).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "store settings"

    def __str__(self) -> str:
        return f"Settings of {self.location_id}"
