"""Ship-to-store work: packed at the source → dispatched (one inventory transfer per line, through
``orders.allocation_dispatch``) → in transit → received at the pickup store
(``orders.allocation_arrive``: booked in and reserved there) → ready for pickup, the customer told.

Both moves are idempotent: dispatching or receiving twice changes nothing the second time."""

from __future__ import annotations

from django.db import transaction

from fulfillment.models import Work, WorkKind, WorkStatus
from omni.errors import Conflict, IllegalTransition
from orders.services import allocation_arrive, allocation_dispatch

from .events import Actor, actor_label, work_event_record
from .transitions import WORK_TRANSITIONS, work_transition
from .workflow import _lines, _mark_ready_locked, work_lock


def _check_kind(work: Work) -> None:
    if work.kind != WorkKind.SHIP_TO_STORE:
        raise IllegalTransition(f"Work {work.pk} is {work.get_kind_display().lower()}; only ship-to-store work travels.",
                                code="illegal_transition", details={"kind": [work.kind]})


def dispatch(*, work: Work | int, actor: Actor) -> Work:
    """packed → in transit: each line's units leave the source as a transfer to the pickup store."""
    with transaction.atomic():
        work = work_lock(work)
        _check_kind(work)
        if work.status == WorkStatus.IN_TRANSIT:
            return work
        if work.status != WorkStatus.PACKED:
            work_transition(work=work, to=WorkStatus.IN_TRANSIT, actor=actor)  # raises the clear error
        label = actor_label(actor)
        sent: list[dict[str, int | str]] = []
        for line in _lines(work):
            if not line.ready_quantity:
                continue
            transfer = allocation_dispatch(allocation=line.allocation_id, actor=label)
            line.transfer_id = transfer.pk
            line.save(update_fields=["transfer_id"])
            sent.append({"line": line.pk, "sku": line.product.sku, "quantity": transfer.quantity, "transfer": transfer.pk})
        if not sent:
            raise Conflict(f"Work {work.pk} has nothing packed to send.", code="nothing_to_ship")
        work.transfer_id = int(sent[0]["transfer"])
        work_transition(work=work, to=WorkStatus.IN_TRANSIT, actor=actor,
                        data={"to": work.pickup_location.code if work.pickup_location else "", "lines": sent},
                        extra_fields=("transfer_id",))
        return work


def receive(*, work: Work | int, actor: Actor) -> Work:
    """in transit → ready for pickup: the transfers are received at the pickup store and reserved
    there; the customer is told. If the order cancelled everything meanwhile, the units stay as
    the store's sellable stock and the work is cancelled."""
    with transaction.atomic():
        work = work_lock(work)
        _check_kind(work)
        if work.status != WorkStatus.IN_TRANSIT:
            if work.status in (WorkStatus.READY_FOR_PICKUP, WorkStatus.COLLECTED):
                return work  # replay: it arrived already
            raise IllegalTransition(f"Work {work.pk} is {WORK_TRANSITIONS.label(work.status)}, not in transit.",
                                    code="illegal_transition", details={"status": [work.status]})
        label = actor_label(actor)
        arrived = []
        for line in _lines(work):
            if line.transfer_id is None:
                continue
            transfer = allocation_arrive(allocation=line.allocation_id, actor=label)
            arrived.append({"line": line.pk, "sku": line.product.sku, "quantity": transfer.received_quantity,
                            "transfer": transfer.pk})
        work_event_record(work=work, kind="arrived", actor=actor, data={"lines": arrived})
        if not any(ln.ready_quantity for ln in _lines(work)):
            work_transition(work=work, to=WorkStatus.CANCELLED, actor=actor, data={"reason": "cancelled while in transit"})
            return work
        return _mark_ready_locked(work, actor)
