"""Where each item sits at a location (its shelf or bin, e.g. ``A-03-2``): kept on the stock row,
read by the store pick lists. Not stock: no ledger row, no outbox row, no lock beyond the one-column
update (a concurrent reservation or count on the same row is neither waited for nor overwritten)."""

from __future__ import annotations

from django.db import transaction

from omni.errors import NotFound, ValidationFailed
from omni.limits import has_control_characters

from ..models import Location, Product, StockLevel

SHELF_MAX = 32


def shelf_clean(value: object) -> str:
    """The shelf text as stored: trimmed; empty clears it. Refuses what a label cannot hold."""
    text = "" if value is None else str(value).strip()
    if len(text) > SHELF_MAX:
        raise ValidationFailed(f"A shelf is at most {SHELF_MAX} characters, got {len(text)}.", code="invalid_shelf",
                               details={"shelf": [f"At most {SHELF_MAX} characters."]})
    if has_control_characters(text):
        raise ValidationFailed("A shelf cannot contain control characters.", code="invalid_shelf",
                               details={"shelf": ["No control characters."]})
    return text


def stock_shelf_set(*, product: Product, location: Location, shelf: object) -> StockLevel:
    """Set (or clear, with an empty text) where ``product`` sits at ``location``. The stock row must
    exist: rows appear when stock first arrives, and a pick list only lists items that have one."""
    text = shelf_clean(shelf)
    with transaction.atomic():
        updated = StockLevel.objects.filter(product=product, location=location).update(shelf=text)
        if not updated:
            raise NotFound(f"No stock row for {product.sku} at {location.code}: a shelf is kept on the stock row, "
                           "which appears when stock first arrives there.", code="stock_level_not_found")
        return StockLevel.objects.get(product=product, location=location)
