"""After a pickup is ready: the store's pickup policy (reminder and expiry), every message sent
to the customer with its outcome, and the put-back tasks that expiry leaves for the store."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.models import Location, Product
from orders.models import Order

from .work import Work


class PickupPolicy(models.Model):
    """A store's own pickup timings; stores without one use OMNI_PICKUP_REMINDER_HOURS / _EXPIRY_DAYS."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, primary_key=True, related_name="pickup_policy")
    reminder_after_hours = models.PositiveIntegerField(help_text="Remind the customer this many hours after the pickup is ready.")
    expire_after_days = models.PositiveIntegerField(help_text="Give the goods back to stock this many days after ready.")

    class Meta:
        verbose_name_plural = "pickup policies"
        constraints = [models.CheckConstraint(condition=Q(expire_after_days__gte=1), name="pickuppolicy_expiry_at_least_a_day")]

    def __str__(self) -> str:
        return f"{self.location_id}: remind after {self.reminder_after_hours} h, expire after {self.expire_after_days} d"


class NotificationKind(models.TextChoices):
    READY = "ready", "Ready for pickup"
    REMINDER = "reminder", "Pickup reminder"
    EXPIRED = "expired", "Pickup expired"
    CHOICE = "choice", "Items missing: your choice"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent (no address)"


class Notification(models.Model):
    """One message to a customer by one channel, with its outcome. At most one per (work, kind,
    channel): a job run twice never tells the customer twice."""

    work = models.ForeignKey(Work, on_delete=models.PROTECT, related_name="notifications")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    recipient = models.CharField(max_length=254, blank=True, default="")
    language = models.CharField(max_length=8, default="en")
    subject = models.CharField(max_length=255, blank=True, default="")
    body = models.TextField(blank=True, default="", help_text="The text as sent (the email's plain-text part).")
    status = models.CharField(max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING, db_index=True)
    error = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last started sending it.")

    class Meta:
        verbose_name = "customer notification"
        verbose_name_plural = "customer notifications"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["work", "kind", "channel"], name="notification_once_per_work_kind_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.channel} to {self.recipient or '—'} ({self.status})"


class PutBackStatus(models.TextChoices):
    OPEN = "open", "To put back"
    DONE = "done", "Put back"


class PutBackTask(models.Model):
    """An expired pickup's goods wait at the pickup counter: the store puts them back on the shelf."""

    work = models.OneToOneField(Work, on_delete=models.PROTECT, related_name="put_back_task")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="put_back_tasks")
    status = models.CharField(max_length=8, choices=PutBackStatus.choices, default=PutBackStatus.OPEN, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "put-back task"
        verbose_name_plural = "put-back tasks"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Put back {self.work_id} at {self.location_id} ({self.status})"


class PutBackLine(models.Model):
    task = models.ForeignKey(PutBackTask, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="putbackline_qty_positive")]
