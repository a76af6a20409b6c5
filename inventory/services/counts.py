"""Cycle counts: a counted figure against the system's; the variance goes to the ledger as a
count correction (through ``_buckets``) and the count feeds stock accuracy."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from omni.errors import InsufficientStock, ValidationFailed

from ..models import Bucket, CycleCount, Location, MovementReason, Product, StockMovement
from ._buckets import Change, Actor, actor_or_none, apply_changes, duplicate_external_id, fingerprint_of, lock_level, require, validate_quantity


@dataclass(frozen=True)
class CountResult:
    """The recorded count, its ledger rows (none when the count matched) and whether it was a
    replay of a count reported before with the same ``(source, external_id)``."""

    count: CycleCount
    movements: list[StockMovement]
    replayed: bool = False


def _replay(*, product: Product, location: Location, counted: int | None, source: str, external_id: str) -> CountResult | None:
    if not external_id:
        return None
    counts = CycleCount.objects.filter(source=source, external_id=external_id).select_related("stock_level")
    previous = counts.first()
    if previous is None:
        if not StockMovement.objects.filter(source=source, external_id=external_id).exists():
            return None
        # A movement holds the id: a concurrent report of this count that committed between the two
        # reads (its count and its movement commit together: read the count again), or another kind
        # of movement from this source (a sale, a receipt …) — a conflict.
        previous = counts.first()
        if previous is None:
            raise duplicate_external_id(source=source, external_id=external_id)
    if (previous.stock_level.product_id, previous.stock_level.location_id, previous.counted) != (product.pk, location.pk, counted):
        raise duplicate_external_id(source=source, external_id=external_id, what="count")
    movements = list(StockMovement.objects.filter(stock_level_id=previous.stock_level_id, reason=MovementReason.COUNT,
                                                  reference=f"count:{previous.pk}").order_by("line"))
    return CountResult(count=previous, movements=movements, replayed=True)


def cycle_count_record(
    *, product: Product, location: Location, counted: int | None = None, variance: int | None = None,
    source: str = "omni", actor: Actor | None = None, external_id: str = "", note: str = "",
) -> CountResult:
    """Record a count of sellable units: the variance is posted to the ledger as a count correction.

    Give ``counted`` (the figure on the shelf now), or ``variance``: a difference found by a count
    taken earlier and approved now, applied to today's figure under the row lock (counted = on hand
    now + variance, never below 0), so sales since the count are kept.

    Idempotent by ``(source, external_id)``: the same count reported again returns the first
    ``CycleCount`` (even when it had no variance) with ``replayed`` set, the same id with another
    figure is a conflict.
    """
    if (counted is None) == (variance is None):
        raise ValidationFailed("Give either counted or variance.", code="invalid", details={"counted": ["Counted or variance."]})
    if variance is not None:
        validate_quantity(variance, field_name="variance", allow_negative=True, allow_zero=True)
        if external_id:
            raise ValidationFailed("A late variance is not idempotent by external id; give counted.", code="invalid",
                                   details={"external_id": ["Not with variance."]})
    else:
        counted = validate_quantity(counted, field_name="counted", allow_zero=True)
    require(product, Product, "sku")
    require(location, Location, "location")
    source = (source or "omni")[:64]
    external_id = (external_id or "").strip()
    fingerprint = fingerprint_of({"kind": "count", "sku": product.sku, "location": location.code, "counted": counted}) if external_id else ""

    found = _replay(product=product, location=location, counted=counted, source=source, external_id=external_id)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            level = lock_level(product=product, location=location)
            level.product, level.location = product, location
            if variance is not None:
                counted = max(level.on_hand + variance, 0)
            assert counted is not None  # exactly one of counted / variance was given (checked above)
            variance = counted - level.on_hand
            count = CycleCount.objects.create(
                stock_level=level, counted=counted, system_quantity=level.on_hand, variance=variance,
                actor=actor_or_none(actor), source=source, external_id=external_id,
            )
            movements = []
            if variance:
                if counted < level.reserved:
                    raise InsufficientStock(
                        f"Counted {counted} of {product.sku} at {location.code}, but {level.reserved} are reserved for orders: "
                        "release or re-route those reservations first.",
                        code="count_below_reserved",
                        details={"counted": [f"Below the {level.reserved} reserved units."]},
                    )
                movements = apply_changes(
                    level=level, changes=[Change(Bucket.ON_HAND, variance, MovementReason.COUNT)], source=source,
                    actor=actor, external_id=external_id, fingerprint=fingerprint, reference=f"count:{count.pk}", note=note,
                )
    except IntegrityError:
        # A concurrent report of the same count won the race: answer with its result.
        found = _replay(product=product, location=location, counted=counted, source=source, external_id=external_id)
        if found is not None:
            return found
        raise
    return CountResult(count=count, movements=movements)
