"""Changes after intake: cancel, fulfil, reject and re-route, backorder allocation, returns.

These are the services the fulfillment app calls (it never writes orders' tables itself).
Each locks the order first, so two changes to one order run one after the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from allocation.selectors import pool_availability
from inventory.models import Location
from inventory.selectors import local_day, locations_received_since
from inventory.services import capacity_release, reservation_consume, reservation_release, reservations_release, stock_return
from omni.limits import MAX_QUANTITY
from omni.errors import Conflict, IllegalTransition, InsufficientStock, NotFound, ValidationFailed
from omni.transitions import transition_apply, transition_check
from orders.models import (
    Allocation, AllocationStatus, LineStatus, LostSaleReason, Order, OrderLine, OrderReturn, OrderReturnLine, OrderStatus,
    RerouteShortage,
)
from orders.routing.engine import RoutingDecision, rejections_recorded
from orders.routing.scarcity import priority_key
from orders.selectors import routing_profile_for

from .allocating import allocations_reserve, decision_record, line_needs
from ..signals import allocations_changed
from .events import order_event_record
from .lost_sales import lost_sales_record
from .planning import Planned, RouteRequest, plan_and_reserve
from .scarcity import claim_of_line
from .status import ALLOCATION_TRANSITIONS, LINE_TRANSITIONS, ORDER_TRANSITIONS

_LIVE = (AllocationStatus.RESERVED, AllocationStatus.FULFILLED)


def allocations_changed_send(order: Order) -> None:
    """Tell the apps above (fulfillment) that this order's allocations changed (inside the transaction)."""
    allocations_changed.send(sender=Order, order_id=order.pk)


def order_lock(*, order: Order | int) -> Order:
    """Lock the order row (inside the caller's transaction). Every change to an order, its lines and
    allocations takes this lock first; an app above (fulfillment) takes it before its own rows, so
    that it and a cancel waiting on each other cannot deadlock."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_lock needs a transaction.")
    return _lock_order(order)


def _lock_order(order: Order | int) -> Order:
    pk = order.pk if isinstance(order, Order) else order
    try:
        return Order.objects.select_for_update(of=("self",)).select_related("channel", "pickup_location").get(pk=pk)
    except Order.DoesNotExist:
        raise NotFound(f"Order {pk} does not exist.", code="unknown_order") from None


def order_status_refresh(*, order: Order) -> Order:
    """Derive the order's status from its lines (through the checked transition)."""
    statuses = list(order.lines.values_list("status", flat=True))
    live = [s for s in statuses if s != LineStatus.CANCELLED]
    any_fulfilled = Allocation.objects.filter(line__order=order, status=AllocationStatus.FULFILLED).exists()
    if not live:
        to = OrderStatus.CANCELLED
    elif all(s == LineStatus.FULFILLED for s in live):
        to = OrderStatus.FULFILLED
    elif LineStatus.BACKORDERED in live:
        to = OrderStatus.BACKORDERED
    elif any_fulfilled:
        to = OrderStatus.PARTIALLY_FULFILLED
    else:
        to = OrderStatus.ALLOCATED
    if to != order.status:
        before = order.status
        transition_apply(obj=order, table=ORDER_TRANSITIONS, to=to, what=f"Order {order.external_id}")
        order_event_record(order=order, kind="status_changed", data={"from": before, "to": to})
    return order


def _allocations_close(allocs: Sequence[Allocation], to: str, reason: str = "") -> None:
    """Close reserved allocations (cancelled or rejected): their reservations are released in ONE
    inventory call, which takes the stock rows in primary-key order (two orders cancelling lines
    that share SKUs wait for each other, never deadlock)."""
    for alloc in allocs:
        transition_check(table=ALLOCATION_TRANSITIONS, current=alloc.status, to=to, what=f"Allocation {alloc.pk}")
    if to == AllocationStatus.CANCELLED:
        _capacity_give_back(allocs)
    reservations_release(reservations=[a.reservation_id for a in allocs if a.reservation_id])
    now = timezone.now()
    for alloc in allocs:
        alloc.closed_at, alloc.reason = now, reason[:255]
        transition_apply(obj=alloc, table=ALLOCATION_TRANSITIONS, to=to, what=f"Allocation {alloc.pk}",
                         extra_fields=("closed_at", "reason"))
    if to == AllocationStatus.REJECTED:
        rejections_recorded(location_ids={a.location_id for a in allocs})


def allocations_withdraw(*, allocations: Sequence[Allocation], reason: str) -> None:
    """Take reserved allocations of a locked order away from their locations (a merchandiser moved
    the units elsewhere): closed as rejected with the reason — so the units count as missing on the
    line, not as given up, and later re-routing avoids those locations — their day's capacity slots
    given back where the order keeps nothing else, and their reservations released, in ONE inventory
    call. Inside the caller's transaction, after ``order_lock``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocations_withdraw needs a transaction.")
    allocs = list(allocations)
    if not allocs:
        return
    for alloc in allocs:
        transition_check(table=ALLOCATION_TRANSITIONS, current=alloc.status, to=AllocationStatus.REJECTED,
                         what=f"Allocation {alloc.pk}")
    _capacity_give_back(allocs)  # counters before stock rows
    _allocations_close(allocs, AllocationStatus.REJECTED, reason)


def _capacity_give_back(allocs: Sequence[Allocation]) -> None:
    """An order cancelled before fulfilment gives back the day's capacity slot it claimed at each
    location where it keeps no other live allocation (on the local day it claimed it). Runs before
    the reservations are released: counters are always taken before stock rows. A rejected
    allocation gives its slot back too: the order never comes back to that location (re-routing
    excludes it), so a kept slot would only turn other orders away from a store with room."""
    zones = dict(Location.objects.filter(pk__in={a.location_id for a in allocs}, daily_capacity__isnull=False)
                 .values_list("pk", "timezone"))
    limited = [a for a in allocs if a.location_id in zones]
    if not limited:
        return
    order_of = dict(Allocation.objects.filter(pk__in=[a.pk for a in limited]).values_list("pk", "line__order_id"))
    groups: dict[tuple[int, int], list[Allocation]] = {}
    for alloc in limited:
        groups.setdefault((order_of[alloc.pk], alloc.location_id), []).append(alloc)
    live = set(Allocation.objects.filter(
        line__order_id__in={o for o, _l in groups}, location_id__in={loc for _o, loc in groups},
        status__in=[AllocationStatus.RESERVED, AllocationStatus.FULFILLED],
    ).exclude(pk__in=[a.pk for a in allocs]).values_list("line__order_id", "location_id"))
    capacity_release(claims=[(loc, local_day(zones[loc], min(a.created_at for a in group)))
                             for (order_id, loc), group in groups.items() if (order_id, loc) not in live])


def _lines_cancel(lines: Sequence[OrderLine], *, actor: str, reason: str) -> None:
    """Cancel these lines of one (locked) order, all or none; their reservations are released together."""
    lines = [ln for ln in lines if ln.status != LineStatus.CANCELLED]
    for line in lines:
        if line.allocations.filter(status=AllocationStatus.FULFILLED).exists():
            raise IllegalTransition(f"Line {line.line_no} ({line.product.sku}) is already partly shipped or collected; "
                                    "it cannot be cancelled — return the units instead.", code="line_already_fulfilled",
                                    details={"line": [line.line_no]})
        transition_check(table=LINE_TRANSITIONS, current=line.status, to=LineStatus.CANCELLED, what=f"Line {line.line_no}")
    _allocations_close(list(Allocation.objects.filter(line__in=lines, status=AllocationStatus.RESERVED).order_by("id")),
                       AllocationStatus.CANCELLED, reason)
    for line in lines:
        line.status_reason = reason[:255]
        transition_apply(obj=line, table=LINE_TRANSITIONS, to=LineStatus.CANCELLED, what=f"Line {line.line_no}",
                         extra_fields=("status_reason",))
        order_event_record(order=line.order, kind="line_cancelled", actor=actor, data={"line": line.line_no, "reason": reason})


def order_cancel(*, order: Order | int, actor: str = "system", reason: str = "") -> Order:
    """Cancel every line (releasing its reservations). Refused once anything has been fulfilled.
    Cancelling an order that is already cancelled confirms it: nothing changes and no event is
    written (a partner retrying, a merchandiser clicking twice — the admin and the API agree)."""
    with transaction.atomic():
        order = _lock_order(order)
        if order.status == OrderStatus.CANCELLED:
            return order
        if order.status in (OrderStatus.FULFILLED, OrderStatus.PARTIALLY_FULFILLED):
            raise IllegalTransition(f"Order {order.external_id} is {order.get_status_display().lower()}; it cannot be cancelled.",
                                    code="illegal_transition", details={"status": [order.status]})
        lines = list(order.lines.select_related("product").order_by("line_no"))
        for line in lines:
            line.order = order
        _lines_cancel(lines, actor=actor, reason=reason)
        order_event_record(order=order, kind="cancelled", actor=actor, data={"reason": reason})
        order = order_status_refresh(order=order)
        allocations_changed_send(order)
        return order


def order_line_cancel(*, order: Order | int, line_no: int, actor: str = "system", reason: str = "") -> Order:
    return order_lines_cancel(order=order, line_nos=[line_no], actor=actor, reason=reason)


def order_lines_cancel(*, order: Order | int, line_nos: Sequence[int], actor: str = "system", reason: str = "") -> Order:
    """Cancel some lines (all of them or none), releasing their reservations."""
    with transaction.atomic():
        order = _lock_order(order)
        _lines_cancel([order_line_get(order, line_no) for line_no in dict.fromkeys(line_nos)], actor=actor, reason=reason)
        order = order_status_refresh(order=order)
        allocations_changed_send(order)
        return order


def order_line_get(order: Order, line_no: int) -> OrderLine:
    """Line ``line_no`` of an order the caller has locked (``order_lock``), or ``NotFound``."""
    line = order.lines.select_related("product").filter(line_no=line_no).first()
    if line is None:
        raise NotFound(f"Order {order.external_id} has no line {line_no}.", code="unknown_line", details={"line": [line_no]})
    line.order = order
    return line


def allocation_lock(*, allocation: Allocation | int) -> tuple[Allocation, Order]:
    """Lock an allocation's order (inside the caller's transaction) and return the allocation, its
    line, product and location loaded, with the locked order. For the orders services that change one
    allocation (ship-to-store's dispatch and arrival): the order's lock comes first, as everywhere."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocation_lock needs a transaction.")
    return _lock_allocation(allocation)


def _lock_allocation(allocation: Allocation | int) -> tuple[Allocation, Order]:
    pk = allocation.pk if isinstance(allocation, Allocation) else allocation
    order_id = Allocation.objects.filter(pk=pk).values_list("line__order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Allocation {pk} does not exist.", code="unknown_allocation")
    order = _lock_order(order_id)
    alloc = Allocation.objects.select_related("line__product", "location").get(pk=pk)
    alloc.line.order = order
    return alloc, order


def _part(alloc: Allocation, quantity: int | None) -> int:
    if quantity is None:
        return alloc.quantity
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= alloc.quantity:
        raise ValidationFailed(f"Allocation {alloc.pk} holds {alloc.quantity} units; {quantity!r} is not a quantity of it.",
                               code="invalid_quantity", details={"quantity": [f"Between 1 and {alloc.quantity}."]})
    return quantity


def allocation_settle(alloc: Allocation, quantity: int, to: str, reason: str = "") -> Allocation:
    """Close ``quantity`` units of a reserved allocation as ``to``: the whole allocation, or a new
    closed allocation split off it (the rest stays reserved, still held by the same reservation).
    The caller holds the allocation's lock (``allocation_lock``) and settles the line after."""
    transition_check(table=ALLOCATION_TRANSITIONS, current=alloc.status, to=to, what=f"Allocation {alloc.pk}")
    if to == AllocationStatus.REJECTED:  # a "not found" lowers the location's accuracy at once
        rejections_recorded(location_ids=[alloc.location_id])
    now = timezone.now()
    if quantity == alloc.quantity:
        alloc.closed_at, alloc.reason = now, reason[:255] or alloc.reason
        transition_apply(obj=alloc, table=ALLOCATION_TRANSITIONS, to=to, what=f"Allocation {alloc.pk}",
                         extra_fields=("closed_at", "reason"))
        return alloc
    alloc.quantity -= quantity
    alloc.save(update_fields=["quantity"])
    return Allocation.objects.create(line=alloc.line, location=alloc.location, quantity=quantity, status=to,
                                     reservation_id=alloc.reservation_id, ship_to_store=alloc.ship_to_store,
                                     reason=reason[:255], closed_at=now)


def _line_settle(line: OrderLine, reason: str = "") -> None:
    """An allocated line with nothing held any more and nothing missing is done: fulfilled when any
    unit left the building (the reason names units given up), else cancelled."""
    if line.status != LineStatus.ALLOCATED:
        return
    sums = dict(line.allocations.values_list("status").annotate(n=Sum("quantity")).order_by())
    if sums.get(AllocationStatus.RESERVED, 0):
        return
    fulfilled, given_up = sums.get(AllocationStatus.FULFILLED, 0), sums.get(AllocationStatus.CANCELLED, 0)
    if fulfilled + given_up < line.quantity:
        return
    to = LineStatus.FULFILLED if fulfilled else LineStatus.CANCELLED
    line.status_reason = (reason or f"{given_up} of {line.quantity} not taken by the customer.")[:255] if given_up else ""
    transition_apply(obj=line, table=LINE_TRANSITIONS, to=to, what=f"Line {line.line_no}", extra_fields=("status_reason",))


def allocation_fulfil(*, allocation: Allocation | int, quantity: int | None = None, actor: str = "system") -> Allocation:
    """The units left the location (shipped or collected): the reservation is consumed through the
    ledger. ``quantity`` (default all) fulfils part: the rest stays reserved. Returns the fulfilled
    allocation (the same one, or the part split off it)."""
    with transaction.atomic():
        alloc, order = _lock_allocation(allocation)
        transition_check(table=ALLOCATION_TRANSITIONS, current=alloc.status, to=AllocationStatus.FULFILLED,
                         what=f"Allocation {alloc.pk}")
        if alloc.reservation_id is None:
            raise IllegalTransition(f"Allocation {alloc.pk} holds no reservation to consume.", code="illegal_transition")
        qty = _part(alloc, quantity)
        reservation_consume(reservation=alloc.reservation_id, quantity=qty, source=order.channel.code,
                            reference=f"order:{order.external_id}", actor=None)
        done = allocation_settle(alloc, qty, AllocationStatus.FULFILLED)
        line = alloc.line
        _line_settle(line)
        order_event_record(order=order, kind="allocation_fulfilled", actor=actor, data={
            "line": line.line_no, "location": alloc.location.code, "quantity": qty})
        order_status_refresh(order=order)
    return done


@dataclass(frozen=True)
class AllocationStep:
    """One step of ``allocations_settle``: ``quantity`` units of an allocation ``fulfilled`` (left
    the building) or given up (``cancel`` with a ``reason``)."""

    allocation_id: int
    quantity: int
    cancel: bool = False
    reason: str = ""


def allocations_settle(*, order: Order, steps: Sequence[AllocationStep], actor: str = "system") -> None:
    """``allocation_fulfil`` / ``allocation_cancel`` for several allocations of one order the caller
    has already locked (``order_lock``; fulfilment's ship and hand-over): the allocations are read
    in one query instead of a look-up, an order lock, a read and a savepoint each. Each step then
    does exactly what the single call does, in the same sequence (ledger, allocation, line, the
    timeline's event and status change), so the order's timeline reads the same."""
    if not steps:
        return
    allocs = {a.pk: a for a in Allocation.objects.select_related("line__product", "location")
              .filter(pk__in=sorted({st.allocation_id for st in steps}), line__order_id=order.pk).order_by("pk")}
    with transaction.atomic(savepoint=False):  # an error aborts the caller's transaction anyway
        for st in steps:
            alloc = allocs.get(st.allocation_id)
            if alloc is None:
                raise NotFound(f"Allocation {st.allocation_id} does not exist.", code="unknown_allocation")
            alloc.line.order = order
            if st.cancel:
                transition_check(table=ALLOCATION_TRANSITIONS, current=alloc.status, to=AllocationStatus.CANCELLED,
                                 what=f"Allocation {alloc.pk}")
                qty = _part(alloc, st.quantity)
                if alloc.reservation_id:
                    reservation_release(reservation=alloc.reservation_id, quantity=qty)
                allocation_settle(alloc, qty, AllocationStatus.CANCELLED, st.reason)
                _line_settle(alloc.line)
                order_event_record(order=order, kind="allocation_cancelled", actor=actor, data={
                    "line": alloc.line.line_no, "location": alloc.location.code, "quantity": qty, "reason": st.reason})
            else:
                transition_check(table=ALLOCATION_TRANSITIONS, current=alloc.status, to=AllocationStatus.FULFILLED,
                                 what=f"Allocation {alloc.pk}")
                if alloc.reservation_id is None:
                    raise IllegalTransition(f"Allocation {alloc.pk} holds no reservation to consume.", code="illegal_transition")
                qty = _part(alloc, st.quantity)
                reservation_consume(reservation=alloc.reservation_id, quantity=qty, source=order.channel.code,
                                    reference=f"order:{order.external_id}", actor=None)
                allocation_settle(alloc, qty, AllocationStatus.FULFILLED)
                _line_settle(alloc.line)
                order_event_record(order=order, kind="allocation_fulfilled", actor=actor, data={
                    "line": alloc.line.line_no, "location": alloc.location.code, "quantity": qty})
            order_status_refresh(order=order)


def allocation_cancel(*, allocation: Allocation | int, quantity: int | None = None, reason: str = "", actor: str = "system") -> Allocation:
    """Give up units of an allocation without re-routing them (the customer declined them at pickup,
    the pickup expired): the reservation releases them and the line is done without them."""
    with transaction.atomic():
        alloc, order = _lock_allocation(allocation)
        transition_check(table=ALLOCATION_TRANSITIONS, current=alloc.status, to=AllocationStatus.CANCELLED,
                         what=f"Allocation {alloc.pk}")
        qty = _part(alloc, quantity)
        if alloc.reservation_id:
            reservation_release(reservation=alloc.reservation_id, quantity=qty)
        done = allocation_settle(alloc, qty, AllocationStatus.CANCELLED, reason)
        _line_settle(alloc.line)
        order_event_record(order=order, kind="allocation_cancelled", actor=actor, data={
            "line": alloc.line.line_no, "location": alloc.location.code, "quantity": qty, "reason": reason})
        order_status_refresh(order=order)
    return done


@dataclass(frozen=True)
class RerouteResult:
    line_no: int
    allocations: list[Allocation]
    backordered: bool
    reason: str
    cancelled: int = 0  # units given up (the routing profile cancels what nobody has)
    mode: str = ""  # "delivery" / "pickup" for a pickup order's line routed as the customer chose ("" otherwise)


def order_line_reroute(*, order: Order | int, line_no: int, exclude_location_ids: Iterable[int] = (), actor: str = "system") -> RerouteResult:
    """Route what a line still lacks, never to the excluded locations nor to any location that
    rejected it before. Without stock the line is backordered (with the reason) instead."""
    with transaction.atomic():
        order = _lock_order(order)
        line = order_line_get(order, line_no)
        return _reroute(order=order, line=line, exclude=set(exclude_location_ids), actor=actor)


def _reroute(*, order: Order, line: OrderLine, exclude: set[int], actor: str, kind: str = "reroute") -> RerouteResult:
    if line.status in (LineStatus.CANCELLED, LineStatus.FULFILLED):
        raise IllegalTransition(f"Line {line.line_no} is {line.status}; nothing to route.", code="illegal_transition")
    # Units given up on a live line (declined at pickup) are not missing either.
    live = line.allocations.filter(status__in=(*_LIVE, AllocationStatus.CANCELLED)).aggregate(n=Sum("quantity"))["n"] or 0
    missing = line.quantity - live
    if missing <= 0:
        return RerouteResult(line.line_no, [], False, "Nothing missing.")
    rejected_at = dict(line.allocations.filter(status=AllocationStatus.REJECTED).values_list("location_id")
                       .annotate(at=Max("closed_at")).values_list("location_id", "at"))
    if kind == "backorder":
        # A location rejected the line for units that were not there; units that arrived there since
        # are new ones, so the backorder job may send the line back (a pickup store above all: the
        # customer chose it). Without new units it stays excluded, so a rejection is not undone at once.
        rejected_at = {lid: at for lid, at in rejected_at.items() if at is not None}
        exclude |= set(rejected_at) - locations_received_since(product_id=line.product_id, since=rejected_at)
    else:
        exclude |= set(rejected_at)
    needs, facts = line_needs([(line.line_no, line.product, missing)])
    # A pickup order's line whose units the customer chose to have delivered is routed like a
    # delivery line: any location that ships, to the customer — never the pickup store as a pickup,
    # nor shipped to it. A pickup order carries no coordinates of its own: its store's area stands in.
    delivery = order.pickup_location is not None and line.delivered_on_request
    pickup = None if delivery else order.pickup_location
    bopis_here = pickup is not None and not order.lines.filter(allocations__ship_to_store__isnull=False).exists()
    near = order.pickup_location if delivery else pickup
    destination = ((order.latitude, order.longitude) if delivery and order.latitude is not None and order.longitude is not None
                   else (near.latitude, near.longitude) if near is not None and near.latitude is not None
                   and near.longitude is not None
                   else (order.latitude, order.longitude) if order.latitude is not None and order.longitude is not None
                   else None)
    mode = "delivery" if delivery else ""
    line_by_no = {line.line_no: line}
    profile = routing_profile_for(channel=order.channel)

    def attempt(*, at_pickup: bool, excluded: set[int]) -> Planned[list[Allocation]]:
        """Route to the pickup store itself (BOPIS there), or else (``at_pickup`` False) to any location
        that ships — to the pickup store as a ship-to-store transfer when the order has one."""
        def reserve(decision: RoutingDecision) -> list[Allocation]:
            return allocations_reserve(plan=decision.plan, lines_by_index=line_by_no, products={line.product_id: line.product},
                                       ship_to_store=pickup if pickup is not None and not at_pickup else None)
        return plan_and_reserve(
            request=RouteRequest(
                channel=order.channel, lines=needs, products=facts, destination=destination, profile=profile,
                exclude_location_ids=frozenset(excluded),
                only_location_ids=frozenset({pickup.pk}) if at_pickup and pickup is not None else None,
                require_can_ship=not at_pickup,
            ),
            reserve=reserve,
        )

    try:
        if kind == "backorder" and pickup is not None:
            # The customer still collects at the store they chose: from its own shelf when it has the
            # units, otherwise shipped there from another location (ship-to-store) — never a silent
            # move of the pickup elsewhere, and never a dead end because the pickup store once rejected.
            try:
                if pickup.pk in exclude:
                    raise InsufficientStock(f"{pickup.code} rejected the line and has received nothing since.")
                planned = attempt(at_pickup=True, excluded=exclude)
            except InsufficientStock:
                planned = attempt(at_pickup=False, excluded=exclude | {pickup.pk})
        else:
            planned = attempt(at_pickup=bopis_here, excluded=exclude)
    except InsufficientStock as exc:
        reason = f"{kind}: {exc.message}"
        if kind == "reroute" and profile.reroute_shortage == RerouteShortage.CANCEL:
            return replace(line_units_give_up(order=order, line=line, quantity=missing, actor=actor,
                           reason=f"No other location has it; the routing profile cancels such units ({exc.message})"), mode=mode)
        return replace(line_backorder(order=order, line=line, actor=actor, reason=reason), mode=mode)
    decision, allocs = planned.decision, planned.reserved
    decision_record(order=order, decision=decision, kind=kind)
    if line.status == LineStatus.BACKORDERED:
        line.status_reason = ""
        transition_apply(obj=line, table=LINE_TRANSITIONS, to=LineStatus.ALLOCATED, what=f"Line {line.line_no}",
                         extra_fields=("status_reason",))
    order_event_record(order=order, kind="line_routed", actor=actor, data={
        "line": line.line_no, "kind": kind, "reason": decision.reason, "attempts": planned.attempts,
        "plan": [{"location": p.location_code, "quantity": p.quantity} for p in decision.plan], **({"mode": mode} if mode else {})})
    order_status_refresh(order=order)
    allocations_changed_send(order)
    return RerouteResult(line.line_no, allocs, False, decision.reason, mode=mode)


def line_backorder(*, order: Order, line: OrderLine, actor: str, reason: str) -> RerouteResult:
    """The line waits for stock (the backorder job routes it when stock arrives): backordered with
    ``reason`` and an order event, unless it already is. The caller holds the order's lock."""
    if line.status != LineStatus.BACKORDERED:
        line.status_reason = reason[:255]
        transition_apply(obj=line, table=LINE_TRANSITIONS, to=LineStatus.BACKORDERED, what=f"Line {line.line_no}",
                         extra_fields=("status_reason",))
        order_event_record(order=order, kind="line_backordered", actor=actor, data={"line": line.line_no, "reason": reason})
    order_status_refresh(order=order)
    return RerouteResult(line.line_no, [], True, reason)


def line_units_give_up(*, order: Order, line: OrderLine, quantity: int, actor: str, reason: str) -> RerouteResult:
    """Units of a line nobody can supply are cancelled (recorded as a cancelled allocation at the
    location that last rejected them); the line is done without them. The caller holds the order's
    lock (``order_lock``)."""
    last = (line.allocations.filter(status=AllocationStatus.REJECTED).order_by("-id").first()
            or line.allocations.order_by("-id").first())
    location_id = last.location_id if last is not None else order.pickup_location_id
    if location_id is None:  # never routed anywhere and no pickup store: nowhere to record the units at
        raise IllegalTransition(f"Line {line.line_no} was never allocated; cancel it instead.", code="illegal_transition")
    Allocation.objects.create(line=line, location_id=location_id, quantity=quantity, status=AllocationStatus.CANCELLED,
                              reason=reason[:255], closed_at=timezone.now())
    lost_sales_record(channel=order.channel, order_ref=order.external_id,
                      items=[(line.product, quantity, line.unit_price, LostSaleReason.REJECTED)])
    _line_settle(line, reason)
    if line.status == LineStatus.ALLOCATED:  # other units are still held: the reason stays on the line
        line.status_reason = reason[:255]
        line.save(update_fields=["status_reason"])
    order_event_record(order=order, kind="units_cancelled", actor=actor, data={"line": line.line_no, "quantity": quantity,
                                                                               "reason": reason})
    order_status_refresh(order=order)
    return RerouteResult(line.line_no, [], False, reason, cancelled=quantity)


def allocation_reject(
    *, allocation: Allocation | int, quantity: int | None = None, reason: str = "short pick", actor: str = "system",
    reroute: bool = True,
) -> RerouteResult:
    """A location cannot fulfil (part of) its allocation: the units are released and, unless
    ``reroute`` is False, the line is re-routed elsewhere (never back to this location)."""
    with transaction.atomic():
        alloc, order = _lock_allocation(allocation)
        transition_check(table=ALLOCATION_TRANSITIONS, current=alloc.status, to=AllocationStatus.REJECTED,
                         what=f"Allocation {alloc.pk}")
        qty = _part(alloc, quantity)
        if qty == alloc.quantity:  # nothing of it stays here: the day's slot goes back (before stock rows)
            _capacity_give_back([alloc])
        if alloc.reservation_id:
            reservation_release(reservation=alloc.reservation_id, quantity=qty)
        allocation_settle(alloc, qty, AllocationStatus.REJECTED, reason)
        order_event_record(order=order, kind="allocation_rejected", actor=actor, data={
            "line": alloc.line.line_no, "location": alloc.location.code, "quantity": qty, "reason": reason})
        if not reroute:
            order_status_refresh(order=order)
            return RerouteResult(alloc.line.line_no, [], False, "Not re-routed.")
        return _reroute(order=order, line=alloc.line, exclude={alloc.location_id}, actor=actor)


def backorders_allocate(*, product_ids: Sequence[int] | None = None, actor: str = "system") -> list[RerouteResult]:
    """Give newly available stock to backordered lines, highest priority first (the scarcity rules' order)."""
    qs = OrderLine.objects.filter(status=LineStatus.BACKORDERED).select_related("order__channel", "product")
    if product_ids is not None:
        qs = qs.filter(product_id__in=list(product_ids))
    waiting = list(qs)
    # Only SKUs with something available somewhere can be routed: one pool query, no per-line work
    # (routing, locking, events) for the rest.
    pool = pool_availability(product_ids={ln.product_id for ln in waiting}) if waiting else {}
    stocked = {pid for pid, p in pool.items() if p.available > 0 or p.virtual > 0}
    lines = sorted((ln for ln in waiting if ln.product_id in stocked), key=lambda ln: priority_key(claim_of_line(ln)))
    results = []
    for ln in lines:
        with transaction.atomic():
            order = _lock_order(ln.order_id)
            line = order_line_get(order, ln.line_no)
            if line.status != LineStatus.BACKORDERED:
                continue
            results.append(_reroute(order=order, line=line, exclude=set(), actor=actor, kind="backorder"))
    return results


@dataclass(frozen=True)
class ReturnItem:
    """Units of one line coming back: ``resellable`` back on hand, otherwise to damaged;
    ``refund_amount`` for these units (default: their price, ``unit_price × quantity``)."""

    line_no: int
    quantity: int
    resellable: bool = True
    refund_amount: Decimal | None = None


def _return_content(location_id: int, rows: Iterable[tuple[int, int, bool, Decimal]]) -> tuple[int, list[tuple[Any, ...]]]:
    return location_id, sorted((n, q, bool(r), Decimal(a).quantize(Decimal("0.01"))) for n, q, r, a in rows)


def _refund_of(item: ReturnItem, line: OrderLine, index: int) -> Decimal:
    full = (line.unit_price * item.quantity).quantize(Decimal("0.01"))
    if item.refund_amount is None:
        return full
    try:
        amount = Decimal(item.refund_amount).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        amount = Decimal(-1)
    if not Decimal(0) <= amount <= full:
        raise ValidationFailed(
            f"Item {index + 1}: the refund must be between 0 and {full} ({item.quantity} × {line.unit_price}), "
            f"got {item.refund_amount}.", code="invalid_refund", details={f"items[{index}].refund_amount": [f"0 to {full}."]})
    return amount


def order_return(
    *, order: Order | int, items: Sequence[ReturnItem], location: Location, actor: str = "system", external_id: str = "",
    reason: str = "",
) -> Order:
    """Customer returns, at any location: resellable units back on hand, the rest to damaged, through
    the ledger at that location; the refund owed is recorded (``OrderReturn``) for the partner. At
    most what was fulfilled (less earlier returns) per line. The same ``external_id`` again replays
    (changes nothing); with other content it is refused."""
    if not items:
        raise ValidationFailed("A return needs at least one item.", code="invalid", details={"items": ["Required."]})
    if not isinstance(location, Location) or location.pk is None or not location.is_active:
        raise ValidationFailed("Returns need an active location.", code="unknown_location", details={"location": ["Unknown or inactive."]})
    external_id = (external_id or "").strip()
    with transaction.atomic():
        order = _lock_order(order)
        if external_id:
            previous = order.returns.filter(external_id=external_id).first()
            if previous is not None:
                prices = dict(order.lines.values_list("line_no", "unit_price"))
                given = _return_content(location.pk, (
                    (it.line_no, it.quantity, it.resellable,
                     it.refund_amount if it.refund_amount is not None else prices.get(it.line_no, Decimal(0)) * it.quantity)
                    for it in items))
                before = _return_content(previous.location_id, previous.lines.values_list(
                    "line__line_no", "quantity", "resellable", "refund_amount"))
                if given != before:
                    raise Conflict(f"Return {external_id!r} of order {order.external_id} was already recorded with other items.",
                                   code="duplicate_external_id", details={"external_id": ["Already used with different content."]})
                return order  # the same return reported twice
        wanted: dict[int, int] = {}
        for i, item in enumerate(items):
            if isinstance(item.quantity, bool) or not isinstance(item.quantity, int) or not 1 <= item.quantity <= MAX_QUANTITY:
                raise ValidationFailed(f"Item {i + 1}: quantity must be a whole number from 1 to {MAX_QUANTITY:,}.",
                                       code="invalid_quantity", details={f"items[{i}].quantity": [f"From 1 to {MAX_QUANTITY}."]})
            wanted[item.line_no] = wanted.get(item.line_no, 0) + item.quantity
        lines = {}
        for line_no, qty in wanted.items():
            line = order_line_get(order, line_no)
            shipped = line.allocations.filter(status=AllocationStatus.FULFILLED).aggregate(n=Sum("quantity"))["n"] or 0
            if qty > shipped - line.quantity_returned:
                raise Conflict(
                    f"Line {line_no} ({line.product.sku}): {qty} returned but only {shipped - line.quantity_returned} "
                    f"were delivered and not yet returned.", code="return_exceeds_delivered",
                    details={"line": [line_no], "returnable": shipped - line.quantity_returned},
                )
            lines[line_no] = line
        refunds = [_refund_of(item, lines[item.line_no], i) for i, item in enumerate(items)]
        record = OrderReturn.objects.create(order=order, location=location, external_id=external_id[:128], reason=reason[:255],
                                            refund_amount=sum(refunds, Decimal("0.00")), actor=(actor or "system")[:150])
        for i, item in enumerate(items):
            line = lines[item.line_no]
            stock_return(
                product=line.product, location=location, quantity=item.quantity, resellable=item.resellable,
                source="order-return", external_id=f"{order.channel.code}:{external_id}:{i}" if external_id else "",
                reference=f"order:{order.external_id}", note=reason[:255],
            )
            line.quantity_returned += item.quantity
            line.save(update_fields=["quantity_returned"])
        OrderReturnLine.objects.bulk_create([
            OrderReturnLine(order_return=record, line=lines[item.line_no], quantity=item.quantity, resellable=bool(item.resellable),
                            refund_amount=refund) for item, refund in zip(items, refunds)])
        order_event_record(order=order, kind="returned", actor=actor, data={
            "return": record.pk, "external_id": external_id, "location": location.code, "reason": reason,
            "refund_amount": str(record.refund_amount),
            "items": [{"line": it.line_no, "quantity": it.quantity, "resellable": bool(it.resellable), "refund_amount": str(r)}
                      for it, r in zip(items, refunds)]})
    return order
