"""Transfers between locations: shipped (units leave the source: in transit), then received at
the destination (fewer than shipped: the rest is recorded as lost in transit). Status moves go
through ``omni.transitions`` with ``TRANSFER_TRANSITIONS``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from omni.errors import NotFound, ValidationFailed
from omni.transitions import TransitionTable, transition_apply, transition_check

from ..models import Bucket, Location, MovementReason, Product, StockMovement, Transfer, TransferStatus
from ._buckets import (
    Change,
    MovementResult,
    Actor,
    actor_or_none,
    duplicate_external_id,
    operate,
    operation_apply,
    operation_prepare,
    replay_after_race,
    require,
    validate_quantity,
)

TRANSFER_TRANSITIONS = TransitionTable(TransferStatus, {
    TransferStatus.IN_TRANSIT: {TransferStatus.RECEIVED, TransferStatus.CANCELLED},
    TransferStatus.RECEIVED: set(),
    TransferStatus.CANCELLED: set(),
})


@dataclass(frozen=True)
class TransferResult:
    """The transfer, the ledger rows this call wrote (or, replayed, the ones it wrote the first
    time) and whether it was a replay of the same ``(source, external_id)``."""

    transfer: Transfer
    movements: list[StockMovement]
    replayed: bool = False


def _transfer_of(result: MovementResult) -> Transfer:
    return Transfer.objects.get(pk=int(result.movements[0].reference.split(":", 1)[1]))


def transfer_ship(
    *, product: Product, from_location: Location, to_location: Location, quantity: int, source: str = "omni",
    actor: Actor | None = None, external_id: str = "", reference: str = "",
) -> TransferResult:
    """Take the units off the source: the transfer is created first, then its ledger row is
    written naming it (``transfer:<id>``), in one transaction."""
    quantity = validate_quantity(quantity)
    require(to_location, Location, "location")
    if from_location.pk == to_location.pk:
        raise ValidationFailed("A transfer needs two different locations.", code="same_location",
                               details={"to_location": ["Same as from_location."]})
    op = operation_prepare(
        kind="transfer_out", product=product, location=from_location,
        changes=[Change(Bucket.ON_HAND, -quantity, MovementReason.TRANSFER_OUT)],
        source=source, actor=actor, external_id=external_id, reference=reference, payload={"to": to_location.code},
    )
    if isinstance(op, MovementResult):
        return TransferResult(transfer=_transfer_of(op), movements=op.movements, replayed=True)
    try:
        with transaction.atomic():
            transfer = Transfer.objects.create(
                product=product, from_location=from_location, to_location=to_location, quantity=quantity,
                reference=reference, created_by=actor_or_none(actor),
            )
            result = operation_apply(op, reference=f"transfer:{transfer.pk}")
    except IntegrityError:
        found = replay_after_race(op)  # a concurrent request with the same external id won
        if found is None:
            raise
        return TransferResult(transfer=_transfer_of(found), movements=found.movements, replayed=True)
    return TransferResult(transfer=transfer, movements=result.movements)


def transfer_receive(
    *, transfer: Transfer | int, quantity: int | None = None, source: str = "omni", actor: Actor | None = None,
    external_id: str = "",
) -> TransferResult:
    """Book the units in at the destination. Fewer than shipped: the rest is recorded as lost in transit."""
    source = (source or "omni")[:64]
    external_id = (external_id or "").strip()
    with transaction.atomic():
        try:
            transfer = (Transfer.objects.select_for_update(of=("self",)).select_related("product", "to_location")
                        .get(pk=getattr(transfer, "pk", transfer)))
        except Transfer.DoesNotExist:
            raise NotFound("Unknown transfer.", code="unknown_transfer", details={"transfer": ["Does not exist."]}) from None
        if external_id:
            previous = list(StockMovement.objects.filter(source=source, external_id=external_id).order_by("line"))
            if previous:
                if previous[0].reference != f"transfer:{transfer.pk}" or (quantity is not None and previous[0].quantity != quantity):
                    raise duplicate_external_id(source=source, external_id=external_id)
                return TransferResult(transfer=transfer, movements=previous, replayed=True)
        what = f"Transfer #{transfer.pk}"
        transition_check(table=TRANSFER_TRANSITIONS, current=transfer.status, to=TransferStatus.RECEIVED, what=what)
        received = transfer.quantity if quantity is None else validate_quantity(quantity, allow_zero=True)
        if received > transfer.quantity:
            raise ValidationFailed(
                f"Received {received} but only {transfer.quantity} were shipped.", code="invalid_quantity",
                details={"quantity": [f"At most {transfer.quantity}."]},
            )
        movements = []
        transfer.received_quantity = received
        transfer.received_at = timezone.now()
        transition_apply(obj=transfer, table=TRANSFER_TRANSITIONS, to=TransferStatus.RECEIVED, what=what,
                         extra_fields=("received_quantity", "received_at"))
        if received:
            movements = operate(
                kind="transfer_in", product=transfer.product, location=transfer.to_location,
                changes=[Change(Bucket.ON_HAND, received, MovementReason.TRANSFER_IN)],
                source=source, actor=actor, external_id=external_id, reference=f"transfer:{transfer.pk}",
            ).movements
    return TransferResult(transfer=transfer, movements=movements)
