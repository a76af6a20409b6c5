"""Inventory: locations, products, stock levels, the stock ledger, reservations, the outbox.

Quantities are integers, money Decimal, times UTC. ``StockLevel`` rows are only ever changed
by ``inventory.services``; each change of a bucket writes a ``StockMovement`` so that
``bucket == sum(movements of that bucket)`` holds for every row, and ``reserved`` always
equals the sum of open ``Reservation`` rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from omni.idempotency import IdempotencyRecordBase


class LocationKind(models.TextChoices):
    DC = "dc", "Central DC"
    WAREHOUSE = "warehouse", "Regional warehouse"
    STORE = "store", "Store"
    THREE_PL = "3pl", "3PL facility"
    SUPPLIER = "supplier", "Drop-ship supplier"


class Location(models.Model):
    code = models.SlugField(max_length=32, unique=True, help_text="Short stable code, e.g. DC-01 or ST-IST-01.")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=LocationKind.choices, db_index=True)
    address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=80, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True, db_index=True)
    can_ship = models.BooleanField(default=True, help_text="May ship orders to customers.")
    can_pickup = models.BooleanField(default=False, help_text="Serves as a BOPIS pickup point.")
    daily_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Orders per day it can fulfil; empty means unlimited."
    )
    handling_cost = models.DecimalField(
        max_digits=8, decimal_places=2, default=0, help_text="Handling cost per shipment, for routing."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90), name="location_lat_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="location_lon_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class VelocityClass(models.TextChoices):
    A = "A", "A (fast)"
    B = "B", "B (medium)"
    C = "C", "C (slow)"


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    barcode = models.CharField(max_length=32, blank=True, db_index=True, help_text="Primary barcode (EAN/UPC).")
    velocity_class = models.CharField(max_length=1, choices=VelocityClass.choices, default=VelocityClass.B, db_index=True)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    lead_time_days = models.PositiveSmallIntegerField(default=7)
    season = models.CharField(max_length=32, blank=True, help_text="e.g. SS26, AW26, or empty for all-season")
    end_of_season = models.DateField(null=True, blank=True, help_text="From this date the SKU is end-of-season stock.")
    launched_on = models.DateField(null=True, blank=True, help_text="First sale date; new products get conservative safety stock.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_cost__gte=0) & Q(price__gte=0), name="product_money_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"


class ProductBarcode(models.Model):
    """Further barcodes of a product (a scanner may read any of them)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="barcodes")
    code = models.CharField(max_length=32, unique=True)

    def __str__(self) -> str:
        return self.code


class StockLevel(models.Model):
    # no indexes of their own: ``stocklevel_unique_product_location`` (product, location) serves a product's rows,
    # ``stocklevel_loc_prod`` (location, product) a location's
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels", db_index=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_levels", db_index=False)
    on_hand = models.IntegerField(default=0, help_text="Sellable physical units.")
    reserved = models.IntegerField(default=0, help_text="Units held by open reservations.")
    damaged = models.IntegerField(default=0, help_text="Never sellable.")
    quarantine = models.IntegerField(default=0, help_text="Never sellable until released.")
    last_received_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When units last arrived here: the time of this row's latest receipt or transfer in in the ledger, "
                  "set with that ledger row (routing reads the age of the stock from it).",
    )
    shelf = models.CharField(
        max_length=32, blank=True, default="", db_default="",
        help_text="Where the item sits at this location, e.g. A-03-2 (aisle, bay, level): store pick lists show it "
                  "and walk the store in its order. Not stock: set without a ledger row.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_id", "location_id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "location"], name="stocklevel_unique_product_location"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stocklevel_on_hand_nonneg"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_nonneg"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stocklevel_reserved_lte_on_hand"),
            models.CheckConstraint(condition=Q(damaged__gte=0), name="stocklevel_damaged_nonneg"),
            models.CheckConstraint(condition=Q(quarantine__gte=0), name="stocklevel_quarantine_nonneg"),
        ]
        indexes = [models.Index(fields=["location", "product"], name="stocklevel_loc_prod")]

    def __str__(self) -> str:
        # SKU and location code when they are loaded (the admin's pages select them), ids otherwise:
        # never a query of its own
        cache = self._state.fields_cache
        product = cache["product"].sku if cache.get("product") else f"product {self.product_id}"
        location = cache["location"].code if cache.get("location") else f"location {self.location_id}"
        return f"{product} @ {location}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def unreserved(self) -> int:
        return self.on_hand - self.reserved


class Bucket(models.TextChoices):
    ON_HAND = "on_hand", "On hand"
    DAMAGED = "damaged", "Damaged"
    QUARANTINE = "quarantine", "Quarantine"


class MovementReason(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    SALE = "sale", "Sale (POS)"
    FULFILMENT = "fulfilment", "Order fulfilment (shipped/collected)"
    RETURN = "return", "Return"
    TRANSFER_OUT = "transfer_out", "Transfer out"
    TRANSFER_IN = "transfer_in", "Transfer in"
    ADJUSTMENT = "adjustment", "Adjustment"
    COUNT = "count", "Count correction"
    DAMAGE = "damage", "Damage"
    QUARANTINE = "quarantine", "Quarantine"


class StockMovement(models.Model):
    """The append-only ledger. One row per change of one bucket of one stock row.

    An operation that moves units between buckets (marking damaged) writes two rows with the
    same ``external_id`` and ``line`` 0 and 1. Idempotency: ``(source, external_id, line)`` is
    unique when ``external_id`` is set, and line 0 carries the ``fingerprint`` of the request,
    so the same id with different content is refused.
    """

    # no index of its own: ``movement_level_bucket`` (stock_level, bucket) leads with it
    stock_level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="movements", db_index=False)
    bucket = models.CharField(max_length=16, choices=Bucket.choices, default=Bucket.ON_HAND)
    reason = models.CharField(max_length=16, choices=MovementReason.choices)  # Meta's plain index
    quantity = models.IntegerField(help_text="Signed change of the bucket.")
    balance_after = models.IntegerField(help_text="The bucket's balance right after this movement.")
    source = models.CharField(max_length=64, default="omni", help_text="System or channel that reported it.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="stock_movements"
    )
    external_id = models.CharField(max_length=128, blank=True, default="")
    line = models.PositiveSmallIntegerField(default=0)
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    reference = models.CharField(max_length=128, blank=True, default="", help_text="Order, transfer, count ...")
    note = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "ledger entry"
        verbose_name_plural = "stock ledger"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id", "line"],
                condition=~Q(external_id=""),
                name="movement_idempotent_per_source",
            ),
            models.CheckConstraint(condition=~Q(quantity=0), name="movement_nonzero"),
        ]
        indexes = [
            models.Index(fields=["stock_level", "bucket"], name="movement_level_bucket"),
            # a plain one: ``db_index=True`` also made a ``varchar_pattern_ops`` copy, and nothing runs LIKE on a reason
            models.Index(fields=["reason"], name="movement_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.quantity:+d} ({self.bucket})"


class ReservationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONSUMED = "consumed", "Consumed"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"


class Reservation(models.Model):
    """Units of one stock row held for something (an order line, a checkout hold).

    ``reference`` is opaque to inventory (e.g. ``order-line:42`` or ``hold:…``); the app that
    reserved keeps it. ``StockLevel.reserved == sum(quantity of open reservations)``.
    """

    # Open reservations are found through the partial index below; stock rows are never deleted.
    stock_level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="reservations", db_index=False)
    quantity = models.PositiveIntegerField()
    reference = models.CharField(max_length=128)  # Meta's pattern index (``startswith``, and equality)
    status = models.CharField(max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.OPEN)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_qty_positive")]
        indexes = [
            models.Index(fields=["stock_level"], condition=Q(status="open"), name="reservation_open_by_level"),
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="reservation_open_expiry"),
            # one index: ``db_index=True`` gave two, a plain one nothing used (nothing sorts or compares
            # references; the database's C.UTF-8 collation keeps ``LIKE`` off it) and this one
            models.Index(fields=["reference"], name="reservation_reference", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.quantity} ({self.status})"


class TransferStatus(models.TextChoices):
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


class Transfer(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="transfers")
    from_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_out")
    to_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_in")
    quantity = models.PositiveIntegerField()
    received_quantity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=TransferStatus.choices, default=TransferStatus.IN_TRANSIT)
    reference = models.CharField(max_length=128, blank=True, default="")
    shipped_at = models.DateTimeField(auto_now_add=True)
    received_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_qty_positive"),
            models.CheckConstraint(condition=~Q(from_location=F("to_location")), name="transfer_distinct_locations"),
        ]

    def __str__(self) -> str:
        return f"Transfer #{self.pk} {self.quantity} × {self.product_id}"


class CycleCount(models.Model):
    """A counted figure against the system figure; feeds stock accuracy."""

    stock_level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="cycle_counts")
    counted = models.PositiveIntegerField()
    system_quantity = models.IntegerField()
    variance = models.IntegerField(help_text="counted − system")
    counted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=64, default="omni")
    external_id = models.CharField(
        max_length=128, blank=True, default="", db_default="",
        help_text="The reporting system's id of this count (idempotency).",
    )

    class Meta:
        ordering = ["-counted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="cyclecount_idempotent_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"Count #{self.pk}: {self.counted} counted, {self.system_quantity} in system ({self.variance:+d})"

    @property
    def is_accurate(self) -> bool:
        return self.variance == 0


class OutboxEvent(models.Model):
    """Written in the same transaction as a stock change: this SKU's availability may have moved.

    Sync workers drain it (``SELECT … FOR UPDATE SKIP LOCKED``); a row stays until a drain
    has processed it, so nothing committed can be missed, even while Redis or every worker is down.
    """

    # Written with every stock change and read only through the pending index: no other index, so
    # a reservation or movement pays for as few index writes as possible.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], condition=Q(processed_at__isnull=True), name="outbox_pending")]


class LocationDayLoad(models.Model):
    """Orders a location has taken on one local day (its ``timezone``): the counter its
    ``daily_capacity`` is claimed against, with a conditional update in the same transaction as the
    order's reservations (``inventory.services.capacity``), so that concurrent orders cannot
    overbook it. One row per location and day, made on the first claim."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The location's local day.")
    orders = models.PositiveIntegerField(default=0, help_text="Orders that claimed capacity here that day.")

    class Meta:
        # Day first: "which locations are full today" reads by day; a claim by (day, location).
        constraints = [models.UniqueConstraint(fields=["day", "location"], name="location_day_load_unique")]

    def __str__(self) -> str:
        return f"{self.location_id} on {self.day}: {self.orders} orders"


class StockRequestKey(IdempotencyRecordBase):
    """The answer given to one ``Idempotency-Key`` of one caller on the stock API (movement batches,
    snapshots, CSV imports and their cancel), replayed on retries (``omni.idempotency``). Orders'
    keys are kept per channel by orders; these are the caller's own (``token:<id>`` for a partner
    token, ``user:<id>`` for a person): a stock system is not a channel."""

    caller = models.CharField(max_length=64)

    class Meta:
        verbose_name = "stock API idempotency key"
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="stock_request_key_unique_per_caller")]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"


from inventory.imports.models import ImportJob, ImportMode, ImportStatus  # noqa: E402,F401  (CSV import jobs)
from inventory.snapshots.models import SnapshotLineStatus, StockSnapshot, StockSnapshotLine  # noqa: E402,F401  (inbound counts)
from inventory.alerts.models import Alert  # noqa: E402,F401  (ledger drift, dead-lettered pushes)
from inventory.counting.models import CountTask, CountTaskLine, CountTaskOrigin, CountTaskStatus  # noqa: E402,F401  (count tasks)
