"""Ship-to-store: a BOPIS allocation picked at another location travels to the pickup store as a
real inventory ``Transfer``.

- ``allocation_dispatch``: the reservation at the source is released and the same units leave its
  ``on_hand`` as a transfer (in one transaction: the source's available figure does not move);
  while they travel the allocation holds no reservation (the units are in transit, on no shelf).
- ``allocation_arrive``: the transfer is received at the pickup store and the units are reserved
  there at once for the allocation, which now lives at the pickup store (its hand-over consumes
  that reservation through the ledger).

Both are idempotent by the allocation (a replay returns the same transfer and changes nothing).
An allocation cancelled while in transit is simply not re-reserved: its units arrive as sellable
stock of the pickup store.
"""

from __future__ import annotations

from django.db import transaction

from inventory.models import Transfer, TransferStatus
from inventory.services import reservation_create, reservation_release, transfer_receive, transfer_ship
from omni.errors import Conflict
from orders.models import Allocation, AllocationStatus

from .allocating import allocation_reference
from .changes import _settle, allocation_lock
from .events import order_event_record

SHIP_TO_STORE_SOURCE = "ship-to-store"


def _external_id(alloc: Allocation, step: str) -> str:
    return f"allocation:{alloc.pk}:{step}"


def allocation_dispatch(*, allocation: Allocation | int, actor: str = "system") -> Transfer:
    """The allocation's units leave the source for the pickup store. Returns the transfer."""
    with transaction.atomic():
        alloc, order = allocation_lock(allocation=allocation)
        store = alloc.ship_to_store
        if store is None:
            raise Conflict(f"Allocation {alloc.pk} is not a ship-to-store allocation.", code="not_ship_to_store")
        done = Transfer.objects.filter(reference=_external_id(alloc, "transfer")).order_by("pk").first()
        if done is not None:
            return done  # replay
        if alloc.status != AllocationStatus.RESERVED or alloc.reservation_id is None:
            raise Conflict(f"Allocation {alloc.pk} is {alloc.status}; it holds nothing to send.", code="illegal_transition")
        reservation_release(reservation=alloc.reservation_id)
        result = transfer_ship(product=alloc.line.product, from_location=alloc.location, to_location=store,
                               quantity=alloc.quantity, source=SHIP_TO_STORE_SOURCE, external_id=_external_id(alloc, "out"),
                               reference=_external_id(alloc, "transfer"))
        alloc.reservation_id = None
        alloc.save(update_fields=["reservation_id"])
        order_event_record(order=order, kind="allocation_dispatched", actor=actor, data={
            "line": alloc.line.line_no, "from": alloc.location.code, "to": store.code,
            "quantity": alloc.quantity, "transfer": result.transfer.pk})
        return result.transfer


def allocation_arrive(
    *, allocation: Allocation | int, actor: str = "system", received: int | None = None, reason: str = "",
) -> Transfer:
    """The transfer arrived at the pickup store: received there through the ledger and, while the
    allocation still wants the units, reserved for it at the pickup store. Returns the transfer.

    ``received`` fewer than sent (a short receipt): the transfer is received with what came (the
    rest is inventory's "lost in transit": they left the source's on hand through the ledger and
    never arrive), and the missing units of the allocation are closed as rejected with ``reason``
    (the allocation keeps what came); the caller decides what the customer is offered for them."""
    with transaction.atomic():
        alloc, order = allocation_lock(allocation=allocation)
        transfer = Transfer.objects.filter(reference=_external_id(alloc, "transfer")).order_by("pk").first()
        if transfer is None:
            raise Conflict(f"Allocation {alloc.pk} was not sent to the store.", code="not_dispatched")
        if transfer.status == TransferStatus.RECEIVED:
            return transfer  # replay
        transfer_receive(transfer=transfer, quantity=received, source=SHIP_TO_STORE_SOURCE, external_id=_external_id(alloc, "in"))
        transfer.refresh_from_db()
        store = alloc.ship_to_store
        missing = transfer.quantity - transfer.received_quantity
        if missing and alloc.status == AllocationStatus.RESERVED:
            why = (reason or "short receipt")[:200]
            if store is not None:  # the shortfall is found (and rejected) at the pickup store
                alloc.location = store
                alloc.save(update_fields=["location"])
            _settle(alloc, min(missing, alloc.quantity), AllocationStatus.REJECTED,
                    f"{why}: {missing} of {transfer.quantity} did not arrive at {store.code if store else '?'}")
            order_event_record(order=order, kind="allocation_short_receipt", actor=actor, data={
                "line": alloc.line.line_no, "at": store.code if store else "", "sent": transfer.quantity,
                "received": transfer.received_quantity, "missing": missing, "reason": why, "transfer": transfer.pk})
        if alloc.status == AllocationStatus.RESERVED and store is not None:
            res = reservation_create(product=alloc.line.product, location=store, quantity=alloc.quantity,
                                     reference=allocation_reference(alloc))
            alloc.location, alloc.reservation_id = store, res.pk
            alloc.save(update_fields=["location", "reservation_id"])
        order_event_record(order=order, kind="allocation_arrived", actor=actor, data={
            "line": alloc.line.line_no, "at": store.code if store else "", "quantity": transfer.received_quantity,
            "transfer": transfer.pk, "reserved": alloc.status == AllocationStatus.RESERVED})
        return transfer
