"""Inbound stock snapshots: a location posts a full count and every line is reconciled with the ledger.

A snapshot line whose variance is small is applied at once through
``inventory.services.cycle_count_record`` (which posts the count correction to the ledger and
records the count for stock accuracy). A line whose |variance| exceeds
``OMNI_SNAPSHOT_APPROVAL_UNITS`` units or ``OMNI_SNAPSHOT_APPROVAL_PERCENT`` % of the ledger figure
waits for a merchandiser (admin action approve/reject): a miscount of a whole case should not wipe
stock off every channel unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import Location, Product, StockLevel
from inventory.services import cycle_count_record, validate_quantity
from omni.errors import IllegalTransition, OmniError, ValidationFailed

from .models import SnapshotLineStatus, StockSnapshot, StockSnapshotLine


@dataclass(frozen=True)
class SnapshotLineInput:
    sku: str
    counted: int


def needs_approval(*, system: int, variance: int) -> bool:
    units = getattr(settings, "OMNI_SNAPSHOT_APPROVAL_UNITS", 10)
    percent = getattr(settings, "OMNI_SNAPSHOT_APPROVAL_PERCENT", 20)
    if abs(variance) > units:
        return True
    base = max(system, 1)
    return abs(variance) * 100 > percent * base and abs(variance) > 1


def stock_snapshot_apply(
    *, location: Location, lines: list[SnapshotLineInput], source: str = "omni", actor: Any = None, external_id: str = "",
) -> StockSnapshot:
    """Record a full snapshot of ``location`` and reconcile every line against the ledger.

    Only the SKUs listed are reconciled: a SKU missing from the snapshot is not taken as counted
    zero (a partial export must not wipe a store's stock); send ``counted: 0`` to say so.

    The whole input is validated first (unknown SKU, negative or non-integer count, duplicate SKU):
    a bad snapshot changes nothing. The same ``(source, external_id)`` returns the first snapshot.
    """
    if not isinstance(location, Location) or location.pk is None:
        raise ValidationFailed("Unknown location.", code="unknown_location", details={"location": ["Not found."]})
    if not lines:
        raise ValidationFailed("A snapshot needs at least one line.", details={"lines": ["Empty."]})
    external_id = (external_id or "").strip()
    source = (source or "omni")[:64]
    if external_id:
        existing = StockSnapshot.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing
    errors: dict[str, list[str]] = {}
    counted_by_sku: dict[str, int] = {}
    for index, line in enumerate(lines, start=1):
        try:
            counted = validate_quantity(line.counted, field_name="counted", allow_zero=True)
        except ValidationFailed as exc:
            errors[f"lines[{index}].counted"] = [exc.message]
            continue
        if line.sku in counted_by_sku:
            errors[f"lines[{index}].sku"] = [f"{line.sku} appears twice."]
        counted_by_sku[line.sku] = counted
    products = {p.sku: p for p in Product.objects.filter(sku__in=list(counted_by_sku))}
    unknown = [sku for sku in counted_by_sku if sku not in products]
    if unknown:
        errors["sku"] = [f"Unknown SKU(s): {', '.join(sorted(unknown)[:20])}."]
    if errors:
        first_field = next(iter(errors))
        raise ValidationFailed(f"Snapshot rejected: {first_field}: {errors[first_field][0]}", code="invalid_snapshot", details=errors)

    try:
        with transaction.atomic():
            snapshot = StockSnapshot.objects.create(location=location, source=source, external_id=external_id,
                                                    actor=actor if getattr(actor, "is_authenticated", False) else None)
            system = dict(
                StockLevel.objects.filter(location=location, product__in=products.values()).values_list("product_id", "on_hand")
            )
            for sku, counted in counted_by_sku.items():
                product = products[sku]
                on_hand = system.get(product.pk, 0)
                variance = counted - on_hand
                snapshot_line = StockSnapshotLine(snapshot=snapshot, product=product, counted=counted, system_quantity=on_hand,
                                                  variance=variance, status=SnapshotLineStatus.PENDING)
                if needs_approval(system=on_hand, variance=variance):
                    snapshot_line.save()
                    continue
                _apply_line(line=snapshot_line, counted=counted, actor=actor, source=source)
    except IntegrityError:
        existing = StockSnapshot.objects.filter(source=source, external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return existing
    return snapshot


def _apply_line(*, line: StockSnapshotLine, actor: Any, source: str, counted: int | None = None,
                variance: int | None = None) -> None:
    try:
        count = cycle_count_record(
            product=line.product, location=line.snapshot.location, counted=counted, variance=variance, source=source,
            actor=actor,
            note=f"stock snapshot #{line.snapshot_id}",
        ).count
    except OmniError as exc:  # e.g. counted below what is reserved: the line waits, nothing else fails
        line.status = SnapshotLineStatus.FAILED
        line.error = exc.message[:255]
        line.save()
        return
    line.cycle_count = count
    line.status = SnapshotLineStatus.APPLIED if count.variance else SnapshotLineStatus.UNCHANGED
    line.save()


def snapshot_line_approve(*, line: StockSnapshotLine, actor: Any) -> StockSnapshotLine:
    """Apply a held line. The variance found at count time is applied to today's figure (sales
    since the count are kept): counted now = on hand now + variance."""
    with transaction.atomic():
        line = StockSnapshotLine.objects.select_for_update(of=("self",)).select_related("snapshot__location", "product").get(pk=line.pk)
        if line.status != SnapshotLineStatus.PENDING:
            raise IllegalTransition(f"This line is {line.get_status_display().lower()}, not waiting for approval.",
                                    details={"status": [line.status]})
        line.decided_by = actor if getattr(actor, "is_authenticated", False) else None
        line.decided_at = timezone.now()
        # the variance is applied to the figure inventory reads under its row lock
        _apply_line(line=line, variance=line.variance, actor=actor, source=line.snapshot.source)
    return line


def snapshot_line_reject(*, line: StockSnapshotLine, actor: Any) -> StockSnapshotLine:
    with transaction.atomic():
        line = StockSnapshotLine.objects.select_for_update(of=("self",)).get(pk=line.pk)
        if line.status != SnapshotLineStatus.PENDING:
            raise IllegalTransition(f"This line is {line.get_status_display().lower()}, not waiting for approval.",
                                    details={"status": [line.status]})
        line.status = SnapshotLineStatus.REJECTED
        line.decided_by = actor if getattr(actor, "is_authenticated", False) else None
        line.decided_at = timezone.now()
        line.save(update_fields=["status", "decided_by", "decided_at"])
    return line
