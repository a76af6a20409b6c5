"""A location cannot deliver units: rejection, in part or whole, with a reason that decides the
stock effect, then the rest of the line is re-routed through ``orders``.

| reason | stock effect | the units |
| --- | --- | --- |
| not_found | written off (an adjustment, reference ``count-pending:work:<id>``) and a count task for the SKU at the location; the count posts back whatever is found | re-routed |
| damaged | on hand → damaged bucket | re-routed |
| customer_cancelled | none (released back to sellable) | cancelled, not re-routed |
| other | none (released back to sellable) | re-routed |

Why an adjustment and not a "count pending" bucket: the ledger invariant is per bucket
(``bucket == sum(movements)``) and a count posts its variance against ``on_hand``; a units
written off now and found by the count come back as a count correction, with no bucket that
every count and every report would have to know about. The units are held back (not sellable)
until counted, which is what the reason means.

A pickup rejected at the pickup store itself (BOPIS, or a ship-to-store pickup that arrived) is not
re-routed: the customer is asked to choose (``choices.choice_request``). Otherwise re-routing
never goes back to a location that rejected the line; what no other location has is
backordered or cancelled as the channel's routing profile says (``reroute_shortage``), and the
decision is stored by ``orders`` (``RoutingDecision`` kind ``reroute``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from fulfillment.models import CustomerChoice, RejectReason, Work, WorkKind, WorkStatus
from inventory.counting.models import CountTaskOrigin
from inventory.counting.services import count_task_create
from inventory.models import Location
from inventory.services import stock_adjust, stock_mark_damaged
from omni.errors import NotFound, ValidationFailed
from orders.routing.engine import NOT_FOUND_REASON
from orders.services import allocation_cancel, allocation_reject, order_line_reroute

from .choices import choice_request
from .events import Actor, actor_label, actor_parts, work_event_record
from .partner_events import event_line, work_partner_event
from .progress import work_settle_if_done
from .transitions import work_can, work_transition
from .workflow import _lines, work_lock

REJECT_SOURCE = "fulfillment"
# Routing's accuracy criterion counts "not found" rejections by how their reason starts.
NOT_FOUND_PREFIX: str = NOT_FOUND_REASON


def _count_task_request(*, work: Work, location: Any, product: Any, actor: Actor, note: str) -> int:
    """Ask for a count of this SKU at this location (a rejection count task); returns its id."""
    task = count_task_create(location=location, products=[product], origin=CountTaskOrigin.REJECTION,
                             created_by=actor_parts(actor)[0], reference=f"work:{work.pk}", note=note[:255])
    return task.pk


@dataclass(frozen=True)
class Rejection:
    """What a rejection did with the units, for whoever reported it (the store app says it in words):
    the customer asked to choose (``choice``), units sent on to other locations (code → units),
    units waiting for stock (their lines backordered), units given up because no other location has
    them (the channel cancels such units), units the customer cancelled."""

    work: Work
    choice: CustomerChoice | None = None
    rerouted: dict[str, int] = field(default_factory=dict)
    backordered: int = 0
    cancelled: int = 0
    customer_cancelled: int = 0


def reject(
    *, work: Work | int, quantities: Mapping[int, tuple[int, str]], actor: Actor, note: str = "",
) -> Work:
    """``work_reject``, answering the work as it now is."""
    return work_reject(work=work, quantities=quantities, actor=actor, note=note).work


def work_reject(
    *, work: Work | int, quantities: Mapping[int, tuple[int, str]], actor: Actor, note: str = "",
) -> Rejection:
    """Reject units of some lines (work line id → (units, reason)). Each reason's stock effect is
    applied through inventory, the units leave this work, and the order lines are re-routed (except
    what the customer cancelled). When nothing is left the work is rejected. Bad input changes
    nothing. Returns what happened to the units (``Rejection``)."""
    if not quantities:
        raise ValidationFailed("Say which units are rejected.", code="invalid", details={"quantities": ["Required."]})
    note = (note or "").strip()
    with transaction.atomic():
        work = work_lock(work)
        if not work_can(work, WorkStatus.REJECTED):
            work_transition(work=work, to=WorkStatus.REJECTED, actor=actor)  # raises the clear error
        by_pk = {ln.pk: ln for ln in _lines(work)}
        wanted: list[tuple[Any, int, str]] = []
        for pk, item in quantities.items():
            line = by_pk.get(pk)
            if line is None:
                raise NotFound(f"Work {work.pk} has no line {pk}.", code="unknown_line", details={"quantities": [pk]})
            try:
                qty, reason = item
            except (TypeError, ValueError):
                raise ValidationFailed(f"Line {pk}: give (units, reason).", code="invalid",
                                       details={"quantities": {str(pk): ["(units, reason)"]}}) from None
            if reason not in RejectReason.values:
                raise ValidationFailed(f"Line {pk}: unknown reason {reason!r}; one of {', '.join(RejectReason.values)}.",
                                       code="invalid_reason", details={"reason": [f"One of {RejectReason.values}."]})
            if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= line.open_quantity:
                raise ValidationFailed(f"Line {pk} ({line.product.sku}): {qty!r} cannot be rejected; "
                                       f"{line.open_quantity} are open.", code="invalid_quantity",
                                       details={"quantities": {str(pk): [f"Between 1 and {line.open_quantity}."]}})
            wanted.append((line, qty, reason))
        label = actor_label(actor)
        user = actor_parts(actor)[0]
        # A ship-to-store pickup that arrived holds its units at the pickup store.
        where = work.pickup_location if work.kind == WorkKind.SHIP_TO_STORE and work.ready_at and work.pickup_location else work.location
        # A pickup rejected at the store where the customer collects is not moved elsewhere by
        # itself: the customer chooses (another store nearby, delivery, cancel).
        ask_customer = work.kind == WorkKind.BOPIS or (work.kind == WorkKind.SHIP_TO_STORE and where == work.pickup_location)
        to_ask: list[tuple[Any, int]] = []
        reroute: dict[int, int] = {}  # order line no → order line id, in line order
        rejected_lines: list[dict[str, Any]] = []
        for line, qty, reason in sorted(wanted, key=lambda w: w[0].pk):
            why = f"{reason}: {note}" if note else reason
            data: dict[str, Any] = {"line": line.pk, "sku": line.product.sku, "quantity": qty, "reason": reason, "note": note}
            if reason == RejectReason.CUSTOMER_CANCELLED:
                allocation_cancel(allocation=line.allocation_id, quantity=qty, reason=why, actor=label)
            else:
                allocation_reject(allocation=line.allocation_id, quantity=qty, reason=why, actor=label, reroute=False)
                ref = f"work:{work.pk}"
                if reason == RejectReason.NOT_FOUND:
                    stock_adjust(product=line.product, location=where, quantity=-qty, source=REJECT_SOURCE,
                                 actor=user, reference=f"count-pending:{ref}",
                                 note=f"Not found when picking {ref}; held back until counted")
                    data["count_task"] = _count_task_request(work=work, location=where, product=line.product, actor=actor, note=why)
                elif reason == RejectReason.DAMAGED:
                    stock_mark_damaged(product=line.product, location=where, quantity=qty, source=REJECT_SOURCE,
                                       actor=user, reference=ref, note=f"Damaged, found when picking {ref}")
                if ask_customer:
                    to_ask.append((line, qty))
                else:
                    reroute[line.order_line.line_no] = line.order_line_id
            line.rejected += qty
            line.save(update_fields=["rejected"])
            rejected_lines.append(event_line(line, qty, reason=reason))
            work_event_record(work=work, kind="rejected", actor=actor, data=data)
        rerouted_lines: list[dict[str, Any]] = []
        skus = {ln.order_line.line_no: ln.product.sku for ln, _q, _r in wanted}
        units: dict[int, int] = {}
        customer_cancelled = 0
        for ln, q, r in wanted:
            if r != RejectReason.CUSTOMER_CANCELLED:
                units[ln.order_line.line_no] = units.get(ln.order_line.line_no, 0) + q
            else:
                customer_cancelled += q
        for line_no in sorted(reroute):
            result = order_line_reroute(order=work.order_id, line_no=line_no, actor=label)
            work_event_record(work=work, kind="rerouted", actor=actor, data={
                "order_line": line_no, "backordered": result.backordered, "cancelled": result.cancelled,
                "reason": result.reason,
                "allocations": [{"location_id": a.location_id, "quantity": a.quantity} for a in result.allocations]})
            rerouted_lines.append(_rerouted_line(line_no, skus[line_no], units[line_no], where, result))
        work = work_settle_if_done(work=work, actor=actor)
        # The partner hears of it last in the transaction (after every order and stock lock).
        work_partner_event(work=work, kind="rejected", location=where, lines=rejected_lines, note=note)
        if rerouted_lines:
            work_partner_event(work=work, kind="rerouted", location=where, lines=rerouted_lines)
        choice = choice_request(work=work, lines=to_ask, where=where, actor=actor) if to_ask else None
        sent: dict[str, int] = {}
        for ln in rerouted_lines:
            for to in ln["to"]:
                sent[to["location"]] = sent.get(to["location"], 0) + to["quantity"]
        return Rejection(
            work=work, choice=choice, rerouted=sent, customer_cancelled=customer_cancelled,
            backordered=sum(ln["quantity"] for ln in rerouted_lines if ln["outcome"] == "backordered"),
            cancelled=sum(ln["quantity"] for ln in rerouted_lines if ln["outcome"] == "cancelled"),
        )


def _rerouted_line(line_no: int, sku: str, quantity: int, source: Any, result: Any) -> dict[str, Any]:
    """A re-routed order line for the partner: from where, to where (location codes and units), or
    backordered / cancelled when no other location has it."""
    codes = dict(Location.objects.filter(pk__in={a.location_id for a in result.allocations}).values_list("pk", "code"))
    moved = [{"location": codes[a.location_id], "quantity": a.quantity} for a in result.allocations]
    outcome = "rerouted" if moved else "cancelled" if result.cancelled else "backordered" if result.backordered else "unchanged"
    return {"line": line_no, "sku": sku, "quantity": quantity,
            "from": source.code, "to": moved, "outcome": outcome, "reason": result.reason, **({"mode": result.mode} if result.mode else {})}
