"""Count tasks: a list of SKUs at one location to be counted blind (staff enter what is on the
shelf without seeing the system figure), created from a rejection ("not found"), from a
merchandiser's plan or ad hoc. The variance is posted to the ledger through
``inventory.services.cycle_count_record`` when the task is approved."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class CountTaskOrigin(models.TextChoices):
    REJECTION = "rejection", "Rejection (not found)"
    PLAN = "plan", "Merchandiser's plan"
    AD_HOC = "ad_hoc", "Ad hoc"


class CountTaskStatus(models.TextChoices):
    OPEN = "open", "Open (to count)"
    COUNTED = "counted", "Counted (waits for approval)"
    APPROVED = "approved", "Approved (posted to the ledger)"
    CANCELLED = "cancelled", "Cancelled"


class CountTask(models.Model):
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="count_tasks")
    origin = models.CharField(max_length=12, choices=CountTaskOrigin.choices, default=CountTaskOrigin.AD_HOC)
    status = models.CharField(max_length=12, choices=CountTaskStatus.choices, default=CountTaskStatus.OPEN, db_index=True)
    reference = models.CharField(max_length=128, blank=True, default="", help_text="What asked for it, e.g. work:12.")
    note = models.CharField(max_length=255, blank=True, default="")
    due_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    counted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    counted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["location", "status"], name="counttask_loc_status")]
        constraints = [
            # rejections at one store gather on one open task (the next one adds its SKU to it)
            models.UniqueConstraint(fields=["location"], condition=Q(origin="rejection", status="open"),
                                    name="counttask_one_open_rejection_task"),
        ]

    def __str__(self) -> str:
        return f"Count task #{self.pk} at {self.location_id} ({self.status})"


class CountTaskLine(models.Model):
    """One SKU of a task. ``system_quantity`` and ``variance`` are taken when staff submit their
    figure (never shown to them); ``cycle_count`` is the count recorded at approval."""

    task = models.ForeignKey(CountTask, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    counted = models.PositiveIntegerField(null=True, blank=True)
    system_quantity = models.IntegerField(null=True, blank=True)
    variance = models.IntegerField(null=True, blank=True, help_text="counted − system at count time")
    cycle_count = models.ForeignKey("inventory.CycleCount", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["task_id", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "product"], name="counttaskline_unique_product"),
            models.CheckConstraint(condition=Q(counted__isnull=True, variance__isnull=True)
                                   | Q(counted__isnull=False, variance__isnull=False), name="counttaskline_counted_has_variance"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} on task {self.task_id}"
