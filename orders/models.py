"""Orders: orders and lines, allocations (line × location × quantity), the event timeline,
idempotency records, checkout holds, routing profiles and stored routing decisions.

Statuses are ``TextChoices``; every change of status goes through ``omni.transitions``
(``transition_apply``) with the app's tables in ``orders.services.status``, which refuse illegal moves.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from allocation.models import Channel
from inventory.models import Location, Product
from omni.idempotency import IdempotencyRecordBase


class CustomerTier(models.TextChoices):
    STANDARD = "standard", "Standard"
    SILVER = "silver", "Silver"
    GOLD = "gold", "Gold"
    VIP = "vip", "VIP"


# Higher is more valuable (used by the scarcity rules).
TIER_RANK: dict[str, int] = {CustomerTier.STANDARD: 0, CustomerTier.SILVER: 1, CustomerTier.GOLD: 2, CustomerTier.VIP: 3}


class DeliveryMode(models.TextChoices):
    STANDARD = "standard", "Standard shipping"
    EXPRESS = "express", "Express (guaranteed) shipping"
    BOPIS = "bopis", "Buy online, pick up in store"


class OrderStatus(models.TextChoices):
    ALLOCATED = "allocated", "Allocated"
    BACKORDERED = "backordered", "Backordered (waiting for stock)"
    PARTIALLY_FULFILLED = "partially_fulfilled", "Partially fulfilled"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"


class LineStatus(models.TextChoices):
    ALLOCATED = "allocated", "Allocated"
    BACKORDERED = "backordered", "Backordered"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"


class AllocationStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved"
    FULFILLED = "fulfilled", "Fulfilled (shipped or collected)"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected by the location"


class RerouteShortage(models.TextChoices):
    BACKORDER = "backorder", "Backorder the line until stock arrives"
    CANCEL = "cancel", "Cancel the units (the customer is told)"


class HoldStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CONSUMED = "consumed", "Consumed by an order"
    EXPIRED = "expired", "Expired"
    RELEASED = "released", "Released"


class PostalCentroid(models.Model):
    """Where a postal code is, when an order carries no coordinates."""

    country = models.CharField(max_length=2)
    postal_code = models.CharField(max_length=20)
    latitude = models.FloatField()
    longitude = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["country", "postal_code"], name="centroid_unique_code")]

    def __str__(self) -> str:
        return f"{self.country}-{self.postal_code}"


class RoutingProfile(models.Model):
    """Named, versioned routing criteria of a channel (``channel`` empty: the default for all).

    ``criteria`` is an ordered list of ``{"name": ..., "weight": ..., "params": {...}}``. Editing
    creates a new version (``orders.services.routing_profile_save``); the newest active one is used.
    """

    name = models.CharField(max_length=80)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="routing_profiles")
    version = models.PositiveIntegerField(default=1)
    criteria = models.JSONField(default=list)
    max_shipments = models.PositiveSmallIntegerField(default=2, help_text="At most this many locations per order.")
    allow_ship_to_store = models.BooleanField(default=True, help_text="BOPIS: offer a transfer to the chosen store.")
    reroute_shortage = models.CharField(
        max_length=12, choices=RerouteShortage.choices, default=RerouteShortage.BACKORDER,
        help_text="A location rejected units and no other location has them: backorder them or cancel them.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="routing_profile_unique_version"),
            models.CheckConstraint(condition=Q(max_shipments__gte=1), name="routing_profile_max_shipments_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Hold(models.Model):
    """A checkout hold: stock reserved for a cart for a short time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="holds")
    status = models.CharField(max_length=12, choices=HoldStatus.choices, default=HoldStatus.ACTIVE, db_index=True)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "checkout hold"
        verbose_name_plural = "checkout holds"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Hold {self.pk} ({self.status})"


class HoldLine(models.Model):
    hold = models.ForeignKey(Hold, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    reservation_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="holdline_qty_positive")]


class Order(models.Model):
    # no index of its own: ``order_unique_external_id_per_channel`` (channel, external_id) serves channel look-ups
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders", db_index=False)
    external_id = models.CharField(max_length=128)
    customer_ref = models.CharField(max_length=128, blank=True, default="")
    customer_tier = models.CharField(max_length=12, choices=CustomerTier.choices, default=CustomerTier.STANDARD)
    delivery_mode = models.CharField(max_length=12, choices=DeliveryMode.choices, default=DeliveryMode.STANDARD)
    pickup_location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="pickup_orders")
    ship_name = models.CharField(max_length=200, blank=True, default="")
    customer_email = models.EmailField(blank=True, default="", help_text="Where pickup and order messages go.")
    customer_phone = models.CharField(max_length=32, blank=True, default="", help_text="For SMS, in international form (+90…).")
    customer_language = models.CharField(max_length=8, blank=True, default="", help_text="Language of messages, e.g. tr or en.")
    address = models.CharField(max_length=255, blank=True, default="")
    city = models.CharField(max_length=80, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.ALLOCATED)  # Meta's index
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.SET_NULL, related_name="order")
    routing_profile = models.ForeignKey(RoutingProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_unique_external_id_per_channel"),
            models.CheckConstraint(
                condition=~Q(delivery_mode="bopis") | Q(pickup_location__isnull=False), name="order_bopis_needs_pickup"
            ),
        ]
        # a plain index: ``db_index=True`` on a CharField adds a second, ``varchar_pattern_ops`` index for LIKE,
        # which nothing runs on a status, and every insert maintained both
        indexes = [models.Index(fields=["status"], name="order_status")]

    def __str__(self) -> str:
        return f"Order {self.external_id} ({self.channel_id})"


class OrderLine(models.Model):
    # no index of its own: ``orderline_unique_no`` (order, line_no) serves an order's lines
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_no = models.PositiveSmallIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=12, choices=LineStatus.choices, default=LineStatus.ALLOCATED)  # Meta's index
    quantity_returned = models.PositiveIntegerField(default=0)
    status_reason = models.CharField(max_length=255, blank=True, default="")
    delivery_chosen_at = models.DateTimeField(
        null=True, blank=True,
        help_text="A pickup order's line whose missing units the customer chose to have delivered (when): from then on "
                  "it is routed, re-routed and backordered like a delivery line.",
    )

    class Meta:
        ordering = ["order_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="orderline_unique_no"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_qty_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderline_price_nonneg"),
        ]
        indexes = [models.Index(fields=["status"], name="orderline_status")]  # a plain one, as ``Order``'s

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_no}: {self.quantity} × {self.product_id}"

    @property
    def reference(self) -> str:
        return f"order-line:{self.pk}"

    @property
    def delivered_on_request(self) -> bool:
        """The customer of a pickup order chose to have this line's missing units delivered."""
        return self.delivery_chosen_at is not None


class Allocation(models.Model):
    """Units of one order line to be fulfilled from one location, held by one reservation."""

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="allocations")
    # no index of its own: ``allocation_loc_created`` (location, created_at) serves a location's allocations
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="order_allocations", db_index=False)
    quantity = models.PositiveIntegerField()
    reservation_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=AllocationStatus.choices, default=AllocationStatus.RESERVED,  # Meta's index
    )
    ship_to_store = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="BOPIS via transfer: the store the units travel to.",
    )
    reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)  # no index of its own: nothing reads allocations by time alone
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="allocation_qty_positive")]
        indexes = [
            models.Index(fields=["location", "created_at"], name="allocation_loc_created"),
            models.Index(fields=["status"], name="allocation_status"),  # a plain one, as ``Order``'s
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.line_id} @ {self.location_id} ({self.status})"


class OrderEvent(models.Model):
    """Append-only timeline: who did what to an order, when."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40)
    actor = models.CharField(max_length=150, default="system", help_text="User, partner token or 'system'.")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor}"


class IdempotencyRecord(IdempotencyRecordBase):
    """The answer given to one ``Idempotency-Key`` of one channel, replayed on retries (``omni.idempotency``)."""

    # no index of its own: ``idempotency_unique_key_per_channel`` (channel, key) serves a channel's keys
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        verbose_name = "order API idempotency key"
        verbose_name_plural = "order API idempotency keys"
        constraints = [models.UniqueConstraint(fields=["channel", "key"], name="idempotency_unique_key_per_channel")]


class RoutingDecision(models.Model):
    """One routing run for an order (intake, re-route, backorder allocation), with every
    candidate's scores and why the winner won."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="routing_decisions")
    kind = models.CharField(max_length=16, default="intake")
    profile_name = models.CharField(max_length=80, blank=True, default="")
    profile_version = models.PositiveIntegerField(null=True, blank=True)
    candidates = models.JSONField(default=list, help_text="Top candidates: location, total score, per-criterion scores.")
    candidate_count = models.PositiveIntegerField(default=0)
    plan = models.JSONField(default=list, help_text="The chosen allocations: line, location, quantity.")
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class OrderReturn(models.Model):
    """A customer's return of (part of) an order at one location, with the refund owed to the
    customer recorded for the partner (the channel refunds; Omni records what and how much)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=128, blank=True, default="", help_text="The reporter's id (RMA) for idempotency.")
    reason = models.CharField(max_length=255, blank=True, default="")
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Total refund owed for this return.")
    actor = models.CharField(max_length=150, default="system")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], condition=~Q(external_id=""), name="orderreturn_idempotent"),
            models.CheckConstraint(condition=Q(refund_amount__gte=0), name="orderreturn_refund_nonneg"),
        ]

    def __str__(self) -> str:
        return f"Return #{self.pk} of order {self.order_id} at {self.location_id}"


class OrderReturnLine(models.Model):
    order_return = models.ForeignKey(OrderReturn, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    resellable = models.BooleanField(help_text="Back on the shelf (on hand) or to the damaged bucket.")
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderreturnline_qty_positive"),
            models.CheckConstraint(condition=Q(refund_amount__gte=0), name="orderreturnline_refund_nonneg"),
        ]


class LostSaleReason(models.TextChoices):
    NO_ATP = "no_atp", "No ATP for the channel"
    QUOTA = "quota", "Held back by other channels' quotas"
    SCARCITY = "scarcity", "Lost a scarce SKU (channel rejects such orders)"
    REJECTED = "rejected", "Rejected by a location, no other source (not re-routed)"


# Refusals at the door (intake, a checkout hold): counted once per order ref and SKU, and not lost
# when the customer buys under that number later.
INTAKE_LOST_SALE_REASONS = (LostSaleReason.NO_ATP, LostSaleReason.QUOTA, LostSaleReason.SCARCITY)


class LostSale(models.Model):
    """Demand Omni refused: units of an order, a checkout cart (a hold) or a line's rest that no
    source was allowed to take. Written once the refusal is final (order intake or a hold refused,
    once per order ref and SKU; units given up after a rejection);
    with whether the pool — on hand less reserved, over every own location — held the units
    elsewhere at that moment (the sale was lost to rules or reach, not to an empty pool)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    reason = models.CharField(max_length=12, choices=LostSaleReason.choices)
    pool_free = models.IntegerField(help_text="The pool's on hand less reserved for this SKU when the demand was refused.")
    pool_could_cover = models.BooleanField(help_text="The pool held the units elsewhere (pool_free ≥ quantity).")
    order_ref = models.CharField(max_length=128, blank=True, default="", help_text="The refused order's external id.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "lost sale (refused demand)"
        verbose_name_plural = "lost sales (refused demand)"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="lostsale_qty_positive"),
            # an order refused at intake counts once per SKU, however often it is sent again
            models.UniqueConstraint(fields=["channel", "order_ref", "product"], name="lostsale_refused_order_once",
                                    condition=Q(reason__in=["no_atp", "quota", "scarcity"]) & ~Q(order_ref="")),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} refused on {self.channel_id} ({self.reason})"
