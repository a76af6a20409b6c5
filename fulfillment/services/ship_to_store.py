"""Ship-to-store work: packed at the source → dispatched (one inventory transfer per line, through
``orders.allocation_dispatch``) → in transit → received at the pickup store
(``orders.allocation_arrive``: booked in and reserved there) → ready for pickup, the customer told.

Both moves are idempotent: dispatching or receiving twice changes nothing the second time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from fulfillment.models import Work, WorkKind, WorkLine, WorkStatus
from omni.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from orders.services import allocation_arrive, allocation_dispatch

from .choices import choice_request
from .events import Actor, actor_label, work_event_record
from .partner_events import event_line, work_partner_event
from .transitions import WORK_TRANSITIONS, work_transition
from .workflow import _lines, _mark_ready_locked, work_lock


SHORT_RECEIPT = "short_receipt"
SHORT_RECEIPT_REASON = "Fewer units arrived than were sent (lost in transit)"


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


def receive(*, work: Work | int, actor: Actor, received: Mapping[int, int] | None = None, reason: str = "") -> Work:
    """in transit → ready for pickup: the transfers are received at the pickup store and reserved
    there; the customer is told. If the order cancelled everything meanwhile, the units stay as
    the store's sellable stock and the work is cancelled.

    ``received`` (work line id → units that arrived; default: all that were sent) records a short
    receipt: the missing units are inventory's "lost in transit" (they left the source through the
    ledger and never arrive), the pickup is ready for what came, and the missing units are a
    rejection at the pickup store — the customer is asked what to do with them (``choices``)."""
    reason = (reason or "").strip() or SHORT_RECEIPT_REASON
    with transaction.atomic():
        work = work_lock(work)
        _check_kind(work)
        if work.status != WorkStatus.IN_TRANSIT:
            if work.status in (WorkStatus.READY_FOR_PICKUP, WorkStatus.COLLECTED):
                return work  # replay: it arrived already
            raise IllegalTransition(f"Work {work.pk} is {WORK_TRANSITIONS.label(work.status)}, not in transit.",
                                    code="illegal_transition", details={"status": [work.status]})
        label = actor_label(actor)
        lines = _lines(work)
        came = _received(work, lines, received)
        arrived: list[dict[str, Any]] = []
        short: list[tuple[WorkLine, int]] = []
        for line in lines:
            if line.transfer_id is None:
                continue
            transfer = allocation_arrive(allocation=line.allocation_id, actor=label, received=came.get(line.pk), reason=reason)
            arrived.append({"line": line.pk, "sku": line.product.sku, "quantity": transfer.received_quantity,
                            "transfer": transfer.pk})
            missing = min(transfer.quantity - transfer.received_quantity, line.open_quantity)
            if missing:
                arrived[-1]["missing"] = missing
                line.rejected += missing
                line.save(update_fields=["rejected"])
                short.append((line, missing))
        work_event_record(work=work, kind="arrived", actor=actor, data={"lines": arrived, **({"reason": reason} if short else {})})
        if short:
            for line, missing in short:
                work_event_record(work=work, kind="rejected", actor=actor, data={
                    "line": line.pk, "sku": line.product.sku, "quantity": missing, "reason": SHORT_RECEIPT, "note": reason})
        lines = _lines(work)
        if not any(ln.ready_quantity for ln in lines):
            to = WorkStatus.REJECTED if short else WorkStatus.CANCELLED
            work_transition(work=work, to=to, actor=actor, data={"reason": reason if short else "cancelled while in transit"})
        else:
            work = _mark_ready_locked(work, actor)
        if short:
            where = work.pickup_location or work.location
            work_partner_event(work=work, kind="rejected", location=where, note=reason,
                               lines=[event_line(ln, q, reason=SHORT_RECEIPT) for ln, q in short])
            choice_request(work=work, lines=short, where=where, actor=actor)
        return work


def _received(work: Work, lines: list[WorkLine], received: Mapping[int, int] | None) -> dict[int, int]:
    """Check a short receipt's figures (work line id → units that arrived): each between 0 and what
    was sent. Bad input changes nothing."""
    if received is None:
        return {}
    by_pk = {ln.pk: ln for ln in lines if ln.transfer_id is not None}
    out = {}
    for pk, qty in received.items():
        line = by_pk.get(pk)
        if line is None:
            raise NotFound(f"Work {work.pk} has no travelling line {pk}.", code="unknown_line", details={"received": [pk]})
        sent = line.ready_quantity
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= sent:
            raise ValidationFailed(f"Line {pk} ({line.product.sku}): {qty!r} cannot have arrived; {sent} were sent.",
                                   code="invalid_quantity", details={"received": {str(pk): [f"Between 0 and {sent}."]}})
        out[pk] = qty
    return out
