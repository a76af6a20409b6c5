"""A location's preparation promise and opening hours: what gives each work its deadline."""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from inventory.models import Location


class LocationSLA(models.Model):
    """How long a location promises to take, counted in its opening hours (its ``timezone``).
    No row: the fixed defaults, around the clock (``fulfillment.services.sla``)."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, primary_key=True, related_name="fulfillment_sla")
    bopis_hours = models.DecimalField(max_digits=5, decimal_places=2, default=2,
                                      help_text="Pickup in store: ready within this many opening hours.")
    ship_hours = models.DecimalField(max_digits=5, decimal_places=2, default=8,
                                     help_text="Ship from here (store or warehouse): shipped within this many opening hours.")
    ship_to_store_hours = models.DecimalField(
        max_digits=5, decimal_places=2, default=24,
        help_text="Ship to another store: ready at the pickup store within this many opening hours.")
    opens_at = models.TimeField(default=time(9, 0))
    closes_at = models.TimeField(default=time(21, 0))
    open_days = models.CharField(max_length=7, default="0123456",
                                 help_text="Days open, Monday = 0 … Sunday = 6 (e.g. 012345 is closed on Sundays).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "location SLA"
        verbose_name_plural = "location SLAs"
        constraints = [
            models.CheckConstraint(condition=Q(opens_at__lt=models.F("closes_at")), name="locationsla_opens_before_close"),
            models.CheckConstraint(condition=Q(bopis_hours__gt=0) & Q(ship_hours__gt=0) & Q(ship_to_store_hours__gt=0),
                                   name="locationsla_promises_positive"),
        ]

    def __str__(self) -> str:
        return f"SLA of {self.location_id}: BOPIS {self.bopis_hours} h, {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        days = self.open_days or ""
        if not days or any(c not in "0123456" for c in days) or len(set(days)) != len(days):
            errors["open_days"] = "Digits 0 (Monday) to 6 (Sunday), each at most once, at least one."
        if self.opens_at and self.closes_at and self.opens_at >= self.closes_at:
            errors["closes_at"] = "Closes after it opens (the same day)."
        if errors:
            raise ValidationError(errors)
