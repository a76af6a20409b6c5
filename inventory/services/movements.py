"""Stock movements: receipts, POS sales, returns, adjustments, damage. Each is one call of
``_buckets.operate``: atomic, keyword-only, idempotent by ``(source, external_id)``."""

from __future__ import annotations

from ..models import Bucket, Location, MovementReason, Product
from ._buckets import Change, MovementResult, Actor, operate, validate_quantity
from omni.errors import ValidationFailed


def stock_receive(
    *, product: Product, location: Location, quantity: int, source: str = "omni", actor: Actor | None = None,
    external_id: str = "", reference: str = "", note: str = "",
) -> MovementResult:
    quantity = validate_quantity(quantity)
    return operate(
        kind="receipt", product=product, location=location,
        changes=[Change(Bucket.ON_HAND, quantity, MovementReason.RECEIPT)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note,
    )


def stock_sell(
    *, product: Product, location: Location, quantity: int, source: str = "omni", actor: Actor | None = None,
    external_id: str = "", reference: str = "", note: str = "",
) -> MovementResult:
    """A POS sale: takes unreserved units off the shelf."""
    quantity = validate_quantity(quantity)
    return operate(
        kind="sale", product=product, location=location,
        changes=[Change(Bucket.ON_HAND, -quantity, MovementReason.SALE)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note,
    )


def stock_return(
    *, product: Product, location: Location, quantity: int, resellable: bool = True, source: str = "omni",
    actor: Actor | None = None, external_id: str = "", reference: str = "", note: str = "",
) -> MovementResult:
    """A customer return at any location: resellable units go back on hand, the rest to damaged."""
    quantity = validate_quantity(quantity)
    bucket = Bucket.ON_HAND if resellable else Bucket.DAMAGED
    return operate(
        kind="return", product=product, location=location,
        changes=[Change(bucket, quantity, MovementReason.RETURN)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note,
    )


def stock_adjust(
    *, product: Product, location: Location, quantity: int, note: str, source: str = "omni",
    actor: Actor | None = None, external_id: str = "", reference: str = "",
) -> MovementResult:
    """A signed correction with a stated reason."""
    quantity = validate_quantity(quantity, allow_negative=True)
    if not (note or "").strip():
        raise ValidationFailed("An adjustment needs a reason.", code="reason_required", details={"note": ["Required."]})
    return operate(
        kind="adjustment", product=product, location=location,
        changes=[Change(Bucket.ON_HAND, quantity, MovementReason.ADJUSTMENT)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note.strip(),
    )


def stock_mark_damaged(
    *, product: Product, location: Location, quantity: int, source: str = "omni", actor: Actor | None = None,
    external_id: str = "", reference: str = "", note: str = "",
) -> MovementResult:
    """Moves units from on-hand to the damaged bucket (two ledger rows, one per bucket)."""
    quantity = validate_quantity(quantity)
    return operate(
        kind="damage", product=product, location=location,
        changes=[Change(Bucket.ON_HAND, -quantity, MovementReason.DAMAGE), Change(Bucket.DAMAGED, quantity, MovementReason.DAMAGE)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note,
    )
