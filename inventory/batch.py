"""Apply a batch of stock movements reported by a POS, WMS or ERP, item by item.

Each item is applied on its own (its own transaction, or a savepoint when the caller has one
open): a bad item is reported with its own error and changes nothing, the good items of the same
batch still apply. An unexpected error (a bug, a database refusal) becomes that item's error too,
``item_failed``, and rolls back only that item. Every item is idempotent by ``(source, external_id)``: sending a batch again replays
the items that were applied and retries the ones that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from omni.errors import Forbidden, InsufficientStock, NotFound, OmniError, ValidationFailed

from .models import Location, Product, StockLevel, Transfer
from .selectors import location_get_by_code, product_get_by_sku
from .services import Actor, StockOperation, StockOperationKind, stock_operation_apply

logger = logging.getLogger(__name__)

ITEM_FIELDS = ("external_id", "kind", "sku", "location", "quantity", "reason", "resellable", "to_location", "transfer", "reference")


@dataclass(frozen=True)
class MovementInput:
    external_id: str
    kind: str
    sku: str = ""
    location: str = ""
    quantity: int = 0
    reason: str = ""
    resellable: bool = True
    to_location: str = ""
    transfer: int | None = None
    reference: str = ""


class ItemInvalid(ValidationFailed):
    """An item refused before it reached a service (its shape is wrong), with the external id it carried."""

    def __init__(self, message: str, *, external_id: str = "", code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message, code=code, details=details)
        self.external_id = external_id


@dataclass
class MovementOutcome:
    index: int
    external_id: str
    status: str  # applied | replayed | error
    movement_ids: list[int] = field(default_factory=list)
    stock: dict[str, Any] | None = None
    transfer_id: int | None = None
    cycle_count_id: int | None = None
    error: dict[str, Any] | None = None


# Service argument names that a batch item spells differently.
_SERVICE_FIELDS = {"counted": "quantity", "note": "reason"}


def error_field(exc: OmniError) -> str | None:
    """The item field an error is about (for a client to highlight)."""
    if isinstance(exc, InsufficientStock):
        return "quantity"
    for key in exc.details or {}:
        if key in ITEM_FIELDS:
            return key
        if key in _SERVICE_FIELDS:
            return _SERVICE_FIELDS[key]
    if exc.code in ("permission_denied", "inactive_location"):
        return "location"
    return None


def item_error(exc: OmniError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "field": error_field(exc), "details": exc.details}


def _stock_of(level: StockLevel | int) -> dict[str, Any]:
    if not isinstance(level, StockLevel):
        level = StockLevel.objects.select_related("product", "location").get(pk=level)
    return {
        "sku": level.product.sku, "location": level.location.code, "on_hand": level.on_hand,
        "reserved": level.reserved, "available": level.unreserved, "damaged": level.damaged,
    }


@dataclass
class _Catalog:
    """Products and locations of a whole batch, fetched in two queries."""

    products: dict[str, Product]
    locations: dict[str, Location]

    @classmethod
    def for_items(cls, items: Sequence[MovementInput | OmniError]) -> _Catalog:
        inputs = [i for i in items if isinstance(i, MovementInput)]
        skus = {i.sku for i in inputs if i.sku}
        codes = {c for i in inputs for c in (i.location, i.to_location) if c}
        return cls(
            products={p.sku: p for p in Product.objects.filter(sku__in=skus)},
            locations={loc.code: loc for loc in Location.objects.filter(code__in=codes)},
        )

    def product(self, sku: str) -> Product:
        found = self.products.get(sku)
        return found if found is not None else product_get_by_sku(sku=sku)  # raises the standard unknown_sku error

    def location(self, code: str) -> Location:
        found = self.locations.get(code)
        return found if found is not None else location_get_by_code(code=code)


def _authorize(location_ids: frozenset[int] | None, location: Location) -> None:
    if location_ids is not None and location.pk not in location_ids:
        raise Forbidden(f"You may not move stock at {location.code}.", code="permission_denied")


def _transfer_for(item: MovementInput, transfer_id: int) -> Transfer:
    transfer = Transfer.objects.select_related("to_location", "product").filter(pk=transfer_id).first()
    if transfer is None:
        raise NotFound(f"Unknown transfer {transfer_id}.", code="unknown_transfer", details={"transfer": ["Does not exist."]})
    if item.location and item.location != transfer.to_location.code:
        raise ValidationFailed(
            f"Transfer {transfer.pk} goes to {transfer.to_location.code}, not {item.location}.",
            code="wrong_location", details={"location": [f"Must be {transfer.to_location.code}."]},
        )
    if item.sku and item.sku != transfer.product.sku:
        raise ValidationFailed(
            f"Transfer {transfer.pk} carries {transfer.product.sku}, not {item.sku}.",
            code="wrong_sku", details={"sku": [f"Must be {transfer.product.sku}."]},
        )
    return transfer


def _apply_one(
    item: MovementInput, *, source: str, actor: Actor | None, location_ids: frozenset[int] | None, catalog: _Catalog,
) -> MovementOutcome:
    """Parse the item's codes into records, check who may act where, and apply it through the
    one stock-operation table."""
    if item.kind == StockOperationKind.TRANSFER_IN:
        transfer = None
        if item.transfer is not None:  # else the operation table refuses it as required
            transfer = _transfer_for(item, item.transfer)
            _authorize(location_ids, transfer.to_location)
        op = StockOperation(kind=item.kind, transfer=transfer, quantity=item.quantity, source=source, actor=actor,
                            external_id=item.external_id)
    else:
        product = catalog.product(item.sku)
        location = catalog.location(item.location)
        _authorize(location_ids, location)
        to_location = catalog.location(item.to_location) if item.kind == StockOperationKind.TRANSFER_OUT and item.to_location else None
        op = StockOperation(kind=item.kind, product=product, location=location, quantity=item.quantity, note=item.reason,
                            reference=item.reference, resellable=item.resellable, to_location=to_location, source=source,
                            actor=actor, external_id=item.external_id)
    result = stock_operation_apply(op=op)
    return MovementOutcome(
        index=0, external_id=item.external_id, status="replayed" if result.replayed else "applied",
        movement_ids=[m.pk for m in result.movements], stock=_stock_of(result.stock_level),
        transfer_id=result.transfer.pk if result.transfer else None,
        cycle_count_id=result.cycle_count.pk if result.cycle_count else None,
    )


def stock_movements_apply(
    *, items: Sequence[MovementInput | OmniError], source: str, actor: Actor | None = None,
    location_ids: frozenset[int] | None = None,
) -> list[MovementOutcome]:
    """Apply each item on its own; an item given as an ``OmniError`` (it failed validation) is reported as is.

    ``location_ids``: the locations the caller may move stock at (resolved by the adapter from who
    it is); an item at any other location is refused with ``permission_denied``. ``None``: anywhere."""
    outcomes = []
    catalog = _Catalog.for_items(items)
    for index, item in enumerate(items):
        if isinstance(item, OmniError):
            outcomes.append(MovementOutcome(index=index, external_id=getattr(item, "external_id", ""), status="error", error=item_error(item)))
            continue
        try:
            with transaction.atomic():
                outcome = _apply_one(item, source=source, actor=actor, location_ids=location_ids, catalog=catalog)
        except OmniError as exc:
            outcome = MovementOutcome(index=index, external_id=item.external_id, status="error", error=item_error(exc))
        except Exception as exc:  # noqa: BLE001 - the batch contract: any failure is this item's own
            logger.exception("stock movement batch: item %s (%s) failed unexpectedly", index, item.external_id)
            outcome = MovementOutcome(index=index, external_id=item.external_id, status="error", error={
                "code": "item_failed", "field": None, "details": {"error": exc.__class__.__name__},
                "message": f"This item could not be applied ({exc.__class__.__name__}); nothing of it changed. "
                           "Sending the batch again retries it.",
            })
        outcome.index = index
        outcomes.append(outcome)
    return outcomes
