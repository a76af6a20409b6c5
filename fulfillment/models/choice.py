"""A pickup store rejected units of a pickup order: the customer chooses what happens to them.

The options are computed and stored when asked (other pickup stores near the one that rejected,
with distance and available units; delivery from the best shipping location; cancel), so that the
message, the partner event and the API show the same list. The answer arrives through the partner
API; a question left unanswered past ``expires_at`` falls to the channel's shortage rule."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from allocation.models import Channel
from inventory.models import Location
from orders.models import Order

from .work import Work


class ChoiceStatus(models.TextChoices):
    OPEN = "open", "Awaiting the customer's choice"
    ANSWERED = "answered", "Answered"
    EXPIRED = "expired", "Expired (no answer)"
    CLOSED = "closed", "Closed (the order changed meanwhile)"


class ChoiceKind(models.TextChoices):
    PICKUP = "pickup", "Pick up at another store"
    DELIVERY = "delivery", "Home delivery"
    CANCEL = "cancel", "Cancel these items"


class CustomerChoice(models.Model):
    """The question put to a customer about the units one pickup work could not supply."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="choices")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", help_text="The store that rejected the units.")
    status = models.CharField(max_length=10, choices=ChoiceStatus.choices, default=ChoiceStatus.OPEN, db_index=True)
    lines = models.JSONField(help_text="[{line, order_line_id, product_id, sku, quantity}] — the units in question.")
    options = models.JSONField(help_text="[{id, kind, location, distance_km, available}] as offered.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    chosen = models.CharField(max_length=64, blank=True, default="", help_text="The option id chosen.")
    chosen_kind = models.CharField(max_length=10, choices=ChoiceKind.choices, blank=True, default="")
    answered_by = models.CharField(max_length=150, blank=True, default="")
    outcome = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="choice_open_expiry")]
        constraints = [
            models.CheckConstraint(condition=Q(status="open") | Q(answered_at__isnull=False), name="choice_closed_has_time"),
        ]

    def __str__(self) -> str:
        return f"Choice {self.pk} for order {self.order_id} ({self.status})"

    def option(self, option_id: str) -> dict | None:
        return next((o for o in self.options if o.get("id") == option_id), None)


class ChannelChoicePolicy(models.Model):
    """How long a channel's customers have to answer; no row: OMNI_CUSTOMER_CHOICE_HOURS."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, primary_key=True, related_name="+")
    answer_within_hours = models.PositiveIntegerField(help_text="An unanswered choice falls to the channel's shortage rule "
                                                      "(backorder or cancel) after this many hours.")

    class Meta:
        verbose_name_plural = "channel choice policies"
        constraints = [models.CheckConstraint(condition=Q(answer_within_hours__gte=1), name="choicepolicy_at_least_an_hour")]

    def __str__(self) -> str:
        return f"{self.channel_id}: answer within {self.answer_within_hours} h"
