"""Manual pin: a merchandiser forces an open line (or its backordered rest) to a location of their
choice, overriding routing. The API and the admin's order page call this one service.

The pin goes through the same rules as any allocation: the location must be one the channel
sells from and able to serve the order's delivery mode; its day's capacity is claimed and its
units are reserved with the ledger's conditional update (never below the location's safety
stock), so a pin can be refused but never oversells. What moves: the line's reserved units at
other locations (released there, their allocations closed as rejected "moved by manual pin") and
its missing units. All of it or nothing; the pin is stored as a routing decision
("manual pin by <user>") and an order event.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from allocation.selectors import channel_sellable_location_ids
from inventory.models import Location
from omni.errors import Conflict, IllegalTransition, InsufficientStock, ValidationFailed
from omni.transitions import transition_apply
from orders.models import Allocation, LineStatus, Order
from orders.models import RoutingDecision as RoutingDecisionRecord
from orders.routing.engine import PlannedAllocation
from orders.selectors import pin_need, pin_refusal, routing_profile_for

from .allocating import allocations_reserve
from .changes import allocations_changed_send, allocations_withdraw, order_line_get, order_lock, order_status_refresh
from .events import order_event_record
from .status import LINE_TRANSITIONS

PIN_KIND = "manual_pin"


@dataclass(frozen=True)
class PinResult:
    line_no: int
    location: str  # code
    quantity: int  # units newly reserved at the location
    allocation: Allocation
    moved_from: list[tuple[str, int]]  # (location code, units) released elsewhere
    decision_id: int


def order_line_pin(*, order: Order | int, line_no: int, location: Location, actor: str = "system", reason: str = "") -> PinResult:
    """Pin line ``line_no`` of ``order`` to ``location``: its open units elsewhere and its missing
    units are reserved there. Refused with a clear error — and nothing changed — when the line is
    closed, the location is not one the channel sells from or cannot serve the delivery mode, lacks
    the stock (available = on hand − reserved − safety stock) or has no capacity left today."""
    if not isinstance(location, Location) or location.pk is None:
        raise ValidationFailed("Choose a location to pin the line to.", code="invalid", details={"location": ["Required."]})
    with transaction.atomic():
        order = order_lock(order=order)
        line = order_line_get(order, line_no)
        if line.status not in (LineStatus.ALLOCATED, LineStatus.BACKORDERED):
            raise IllegalTransition(f"Line {line_no} is {line.get_status_display().lower()}; only an open line can be pinned.",
                                    code="illegal_transition", details={"line": [line_no]})
        location = Location.objects.get(pk=location.pk)
        sellable = channel_sellable_location_ids(channel=order.channel)
        refusal = pin_refusal(order=order, location=location, sellable=sellable,
                              allow_ship_to_store=routing_profile_for(channel=order.channel).allow_ship_to_store,
                              delivery=line.delivered_on_request)
        if refusal:
            raise Conflict(refusal, code="pin_not_eligible", details={"location": [refusal]})
        need = pin_need(line=line, location_id=location.pk)
        if any(a.reservation_id is None for a in need.moving):
            raise Conflict(f"Line {line_no}: units are on their way to the pickup store (ship-to-store); they cannot be "
                           "moved now.", code="pin_in_transit", details={"line": [line_no]})
        if need.units == 0:
            raise Conflict(f"Line {line_no}: its open units are all at {location.code} already; nothing to move.",
                           code="nothing_to_pin", details={"line": [line_no]})
        label = f"manual pin by {actor}"
        note = f"{label}: {reason}" if reason else label
        moved_from = [(a.location.code, a.quantity) for a in need.moving]
        allocations_withdraw(allocations=need.moving, reason=f"moved to {location.code} ({note})")
        pickup = None if line.delivered_on_request else order.pickup_location  # delivered: never shipped to the store
        try:
            [alloc] = allocations_reserve(
                plan=[PlannedAllocation(line.line_no, line.product_id, location.pk, location.code, need.units)],
                lines_by_index={line.line_no: line}, products={line.product_id: line.product},
                ship_to_store=pickup if pickup is not None and pickup.pk != location.pk else None,
            )
        except InsufficientStock as exc:
            if exc.code == "capacity_exhausted":
                raise InsufficientStock(f"{location.code} has no capacity left today ({location.daily_capacity} orders a "
                                        "day); the line was not moved.", code="capacity_exhausted",
                                        details={"location": [location.code]}) from None
            raise InsufficientStock(
                f"{location.code} has fewer than {need.units} × {line.product.sku} available (on hand less reserved and "
                "safety stock); the line was not moved.", code="insufficient_stock",
                details={"location": [location.code], "requested": need.units},
            ) from None
        if line.status == LineStatus.BACKORDERED:
            line.status_reason = ""
            transition_apply(obj=line, table=LINE_TRANSITIONS, to=LineStatus.ALLOCATED, what=f"Line {line.line_no}",
                             extra_fields=("status_reason",))
        plan = [{"line": line.line_no, "location": location.code, "quantity": need.units}]
        decision = RoutingDecisionRecord.objects.create(
            order=order, kind=PIN_KIND, profile_name="manual pin", candidate_count=1, plan=plan, reason=note[:2000],
            candidates=[{"location": location.code, "total": None, "scores": {}, "coverable_units": need.units}],
        )
        order_event_record(order=order, kind="line_pinned", actor=actor, data={
            "line": line.line_no, "location": location.code, "quantity": need.units, "reason": reason,
            "moved_from": [{"location": c, "quantity": q} for c, q in moved_from], "decision": decision.pk})
        order_status_refresh(order=order)
        allocations_changed_send(order)
    return PinResult(line_no=line.line_no, location=location.code, quantity=need.units, allocation=alloc,
                     moved_from=moved_from, decision_id=decision.pk)

