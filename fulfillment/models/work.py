"""Work items, their lines and events (see the package docstring)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from inventory.models import Location, Product
from orders.models import Order, OrderLine


class WorkKind(models.TextChoices):
    SHIP_FROM_STORE = "ship_from_store", "Ship from store"
    BOPIS = "bopis", "Pickup in store (BOPIS)"
    SHIP_TO_STORE = "ship_to_store", "Ship to store, then pickup"
    WAREHOUSE_SHIP = "warehouse_ship", "Warehouse shipping"


class WorkStatus(models.TextChoices):
    NEW = "new", "New"
    PICKING = "picking", "Picking"
    PICKED = "picked", "Picked"
    PACKED = "packed", "Packed"
    IN_TRANSIT = "in_transit", "In transit to the pickup store"
    SHIPPED = "shipped", "Shipped"
    READY_FOR_PICKUP = "ready_for_pickup", "Ready for pickup"
    COLLECTED = "collected", "Collected"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired (not collected)"


TERMINAL_STATUSES = frozenset({
    WorkStatus.SHIPPED, WorkStatus.COLLECTED, WorkStatus.REJECTED, WorkStatus.CANCELLED, WorkStatus.EXPIRED,
})
OPEN_STATUSES = frozenset(set(WorkStatus.values) - TERMINAL_STATUSES)


class RejectReason(models.TextChoices):
    NOT_FOUND = "not_found", "Not found (the stock figure is wrong)"
    DAMAGED = "damaged", "Damaged"
    CUSTOMER_CANCELLED = "customer_cancelled", "Customer cancelled"
    OTHER = "other", "Other"


class Work(models.Model):
    """What one location does for one order: one shipment or one pickup."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fulfillment_works")
    # no index of its own: ``work_queue`` (location, status, deadline) leads with it
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="fulfillment_works",
                                 help_text="Where the units are picked.", db_index=False)
    pickup_location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                        help_text="BOPIS / ship-to-store: the store where the customer collects.")
    kind = models.CharField(max_length=16, choices=WorkKind.choices)
    status = models.CharField(max_length=16, choices=WorkStatus.choices, default=WorkStatus.NEW)
    deadline = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    picked_at = models.DateTimeField(null=True, blank=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    on_time = models.BooleanField(null=True, blank=True, help_text="Set when it reaches ready / shipped.")
    tracking_number = models.CharField(max_length=64, blank=True, default="")
    carrier = models.CharField(max_length=64, blank=True, default="")
    box_type = models.CharField(max_length=32, blank=True, default="")
    pickup_code = models.CharField(max_length=12, blank=True, default="")
    transfer_id = models.BigIntegerField(null=True, blank=True, help_text="Ship-to-store: the first line's inventory transfer.")

    class Meta:
        ordering = ["deadline", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["pickup_code"], condition=~Q(pickup_code="") & Q(status__in=sorted(OPEN_STATUSES)),
                name="work_pickup_code_unique_open",
            ),
            models.UniqueConstraint(fields=["order", "location"], condition=Q(status="new"), name="work_one_new_per_order_location"),
        ]
        indexes = [models.Index(fields=["location", "status", "deadline"], name="work_queue")]

    def __str__(self) -> str:
        return f"Work {self.pk} · {self.kind} @ {self.location_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_pickup(self) -> bool:
        return self.kind in (WorkKind.BOPIS, WorkKind.SHIP_TO_STORE)


class WorkLine(models.Model):
    """Units of one allocation (order line × this location) and what happened to them."""

    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="lines")
    allocation_id = models.BigIntegerField(unique=True, help_text="orders.Allocation this line fulfils.")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    picked = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    handed_over = models.PositiveIntegerField(default=0, help_text="Shipped or collected.")
    cancelled = models.PositiveIntegerField(default=0, help_text="Cancelled by the order, declined or expired.")
    transfer_id = models.BigIntegerField(null=True, blank=True, help_text="Ship-to-store: the inventory transfer of these units.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="workline_qty_positive"),
            models.CheckConstraint(condition=Q(picked__lte=F("quantity")), name="workline_picked_lte_qty"),
            models.CheckConstraint(condition=Q(handed_over__lte=F("picked")), name="workline_handed_lte_picked"),
            models.CheckConstraint(
                condition=Q(rejected__lte=F("quantity") - F("handed_over") - F("cancelled")), name="workline_settled_lte_qty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} (picked {self.picked}, rejected {self.rejected})"

    @property
    def open_quantity(self) -> int:
        """Units still to settle (not handed over, rejected nor cancelled)."""
        return self.quantity - self.handed_over - self.rejected - self.cancelled

    @property
    def wanted(self) -> int:
        """Units the work still owes or has delivered (not rejected, not cancelled)."""
        return self.quantity - self.rejected - self.cancelled

    @property
    def to_pick(self) -> int:
        return max(self.wanted - self.picked, 0)

    @property
    def ready_quantity(self) -> int:
        """Picked units still wanted and not yet handed over: what ship / hand-over takes."""
        return max(min(self.picked, self.wanted) - self.handed_over, 0)


class WorkEvent(models.Model):
    """Append-only timeline of one work item: every move with its actor and time."""

    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, blank=True, default="")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, default="system")
    at = models.DateTimeField()  # no index: nothing filters or sorts events by it (timelines go by id)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor_label}"


class PickupVerification(models.Model):
    """The ID check at a hand-over: who collected, which ID, who handed over."""

    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="verifications")
    collector_name = models.CharField(max_length=150)
    id_kind = models.CharField(max_length=32, blank=True, default="")
    id_last_digits = models.CharField(max_length=8, blank=True, default="")
    relation = models.CharField(max_length=32, default="customer", help_text="customer, family, courier …")
    handed_over_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    handed_over_label = models.CharField(max_length=150, default="system")
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
