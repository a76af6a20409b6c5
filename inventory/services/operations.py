"""Stock operations: ONE table from an operation kind to the service that performs it and the
fields it takes. The admin's Stock operation page, the API's movement batch and the admin stock
import all dispatch through ``stock_operation_apply``; the set-based CSV import books its rows
with the movement reason of the operation its mode stands for (``IMPORT_MODE_OPERATION``).

Every result says whether the request was a replay of an earlier one with the same
``(source, external_id)`` (then nothing changed): callers never check beforehand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models

from omni.errors import ValidationFailed

from ..models import CycleCount, Location, MovementReason, Product, StockLevel, StockMovement, Transfer
from ._buckets import Actor, validate_quantity
from .counts import cycle_count_record
from .movements import stock_adjust, stock_mark_damaged, stock_receive, stock_return, stock_sell
from .transfers import transfer_receive, transfer_ship


class StockOperationKind(models.TextChoices):
    RECEIPT = "receipt", "Goods received (+quantity)"
    SALE = "sale", "Sale at the till (−quantity)"
    RETURN = "return", "Customer return (+quantity; to damaged when resellable is false)"
    ADJUSTMENT = "adjustment", "Signed correction; needs a reason"
    DAMAGE = "damage", "Units found damaged: on hand → damaged"
    COUNT = "count", "Cycle count: quantity is the counted figure; the variance is posted"
    TRANSFER_OUT = "transfer_out", "Ship units to to_location (creates an in-transit transfer)"
    TRANSFER_IN = "transfer_in", "Book in a transfer (transfer id) at its destination"


@dataclass(frozen=True)
class StockOperation:
    """One operation as an entry point received it (already parsed: model instances, ints)."""

    kind: str
    product: Product | None = None
    location: Location | None = None
    quantity: int | None = None
    note: str = ""
    reference: str = ""
    resellable: bool = True
    to_location: Location | None = None
    transfer: Transfer | None = None
    source: str = "omni"
    actor: Actor | None = None
    external_id: str = ""


@dataclass(frozen=True)
class StockOperationResult:
    kind: str
    stock_level: StockLevel  # the row the operation changed (its destination for a transfer in)
    movements: list[StockMovement]
    replayed: bool
    transfer: Transfer | None = None
    cycle_count: CycleCount | None = None


@dataclass(frozen=True)
class OperationSpec:
    kind: StockOperationKind
    run: Callable[[StockOperation], StockOperationResult]
    required: tuple[str, ...]  # fields the operation needs besides source, actor, external id
    optional: tuple[str, ...] = ()
    reason: str = ""  # the ledger reason it books (for set-based paths that write the ledger themselves)
    admin: bool = False  # offered on the admin's Stock operation page
    fields: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", frozenset(self.required) | frozenset(self.optional))


def _common(op: StockOperation) -> dict:
    return {"product": op.product, "location": op.location, "source": op.source, "actor": op.actor, "external_id": op.external_id}


def _movement(service: Callable, *extra: str) -> Callable[[StockOperation], StockOperationResult]:
    def run(op: StockOperation) -> StockOperationResult:
        kwargs = {name: getattr(op, name) for name in ("quantity", "note", "reference", *extra)}
        result = service(**_common(op), **kwargs)
        return StockOperationResult(op.kind, result.stock_level, result.movements, result.replayed)

    return run


def _count(op: StockOperation) -> StockOperationResult:
    result = cycle_count_record(**_common(op), counted=op.quantity, note=op.note)
    return StockOperationResult(op.kind, result.count.stock_level, result.movements, result.replayed, cycle_count=result.count)


def _transfer_out(op: StockOperation) -> StockOperationResult:
    assert op.product and op.location and op.to_location, "stock_operation_apply checks the required records"
    result = transfer_ship(product=op.product, from_location=op.location, to_location=op.to_location,
                           quantity=validate_quantity(op.quantity), reference=op.reference, source=op.source,
                           actor=op.actor, external_id=op.external_id)
    level = StockLevel.objects.get(product=op.product, location=op.location)
    return StockOperationResult(op.kind, level, result.movements, result.replayed, transfer=result.transfer)


def _transfer_in(op: StockOperation) -> StockOperationResult:
    assert op.transfer is not None, "stock_operation_apply checks the required records"
    result = transfer_receive(transfer=op.transfer, quantity=op.quantity or None, source=op.source, actor=op.actor,
                              external_id=op.external_id)
    t = result.transfer
    level = StockLevel.objects.get(product_id=t.product_id, location_id=t.to_location_id)
    return StockOperationResult(op.kind, level, result.movements, result.replayed, transfer=t)


K = StockOperationKind
STOCK_OPERATIONS: dict[StockOperationKind, OperationSpec] = {spec.kind: spec for spec in (
    OperationSpec(K.RECEIPT, _movement(stock_receive), ("product", "location", "quantity"), ("note", "reference"),
                  MovementReason.RECEIPT, admin=True),
    OperationSpec(K.SALE, _movement(stock_sell), ("product", "location", "quantity"), ("note", "reference"), MovementReason.SALE),
    OperationSpec(K.RETURN, _movement(stock_return, "resellable"), ("product", "location", "quantity"),
                  ("note", "reference", "resellable"), MovementReason.RETURN),
    OperationSpec(K.ADJUSTMENT, _movement(stock_adjust), ("product", "location", "quantity", "note"), ("reference",),
                  MovementReason.ADJUSTMENT, admin=True),
    OperationSpec(K.DAMAGE, _movement(stock_mark_damaged), ("product", "location", "quantity"), ("note", "reference"),
                  MovementReason.DAMAGE, admin=True),
    OperationSpec(K.COUNT, _count, ("product", "location", "quantity"), ("note",), MovementReason.COUNT, admin=True),
    OperationSpec(K.TRANSFER_OUT, _transfer_out, ("product", "location", "quantity", "to_location"), ("reference",),
                  MovementReason.TRANSFER_OUT),
    OperationSpec(K.TRANSFER_IN, _transfer_in, ("transfer",), ("quantity",), MovementReason.TRANSFER_IN),
)}
assert set(STOCK_OPERATIONS) == set(StockOperationKind), "every kind needs its entry"

ADMIN_OPERATIONS = [(k.value, k.label) for k, spec in STOCK_OPERATIONS.items() if spec.admin]

# The set-based CSV import: a snapshot books its differences as counts, a delta as adjustments.
IMPORT_MODE_OPERATION = {"snapshot": StockOperationKind.COUNT, "delta": StockOperationKind.ADJUSTMENT}

_RECORDS = ("product", "location", "to_location", "transfer")


def stock_operation_apply(*, op: StockOperation) -> StockOperationResult:
    """Perform ``op`` through its service. A product, location or transfer the kind requires and
    ``op`` lacks is refused with code ``required`` naming the field; every other check (quantities,
    reasons, stock) is the service's."""
    try:
        spec = STOCK_OPERATIONS[StockOperationKind(op.kind)]
    except ValueError:
        raise ValidationFailed(f"Unknown operation {op.kind!r}; one of {', '.join(StockOperationKind.values)}.",
                               code="invalid_choice", details={"kind": ["Unknown."]}) from None
    for name in spec.required:
        if name in _RECORDS and getattr(op, name) is None:
            label = "the transfer id" if name == "transfer" else name
            raise ValidationFailed(f"A {op.kind} needs {label}.", code="required", details={name: ["Required."]})
    return spec.run(op)
