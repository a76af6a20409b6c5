"""What a customer may do when the pickup store rejected units of a pickup line (fulfillment asks
them; these are the orders side of it): which other pickup stores and which shipping location have
the units now, and — once they chose — route the units there, or give them up.

A rejected pickup line is not re-routed automatically (``allocation_reject(reroute=False)``): its
units simply have no allocation until the customer's answer (or the expiry rule) arrives. Each
function locks the order first, as every change to an order does.

- ``choice_options``: nearby pickup stores holding every unit (distance from the original pickup
  store, available units) and the best location to ship them from (a read: nothing is reserved);
- ``order_line_route_to_pickup``: reserve the units at the chosen pickup store (a BOPIS allocation
  there, no transfer);
- ``order_line_route_for_delivery``: route them as a shipment to the customer's address (never back
  to a location that rejected the line);
- ``order_line_units_give_up``: the customer cancels those units (the line is done without them);
- ``order_line_shortage``: nobody answered: the channel's routing profile decides (backorder the
  line, or cancel the units), as for a re-route that finds no stock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from allocation.selectors import channel_location_ids
from inventory.models import Location
from omni.errors import Conflict, IllegalTransition, InsufficientStock, NotFound
from omni.transitions import transition_apply
from orders.models import Allocation, AllocationStatus, LineStatus, Order, OrderLine, RerouteShortage
from orders.routing.engine import load_candidates
from orders.selectors import routing_profile_for

from .allocating import allocations_reserve, decision_record, line_needs
from .changes import (
    RerouteResult,
    allocations_changed_send,
    line_backorder,
    line_units_give_up,
    order_line_get,
    order_lock,
    order_status_refresh,
)
from .events import order_event_record
from .planning import RouteRequest, plan_and_reserve
from .status import LINE_TRANSITIONS

_LIVE = (AllocationStatus.RESERVED, AllocationStatus.FULFILLED, AllocationStatus.CANCELLED)


@dataclass(frozen=True)
class PickupOption:
    location_id: int
    code: str
    name: str
    distance_km: float | None
    available: dict[int, int]  # product id → units available there now


@dataclass(frozen=True)
class DeliveryOption:
    location_id: int
    code: str
    distance_km: float | None
    available: dict[int, int]


def _rejected_at(line_ids: list[int]) -> set[int]:
    return set(Allocation.objects.filter(line_id__in=line_ids, status=AllocationStatus.REJECTED).values_list("location_id", flat=True))


def _destination(order: Order, near: Location | None) -> tuple[float, float] | None:
    if order.latitude is not None and order.longitude is not None:
        return order.latitude, order.longitude
    if near is not None and near.latitude is not None and near.longitude is not None:
        return near.latitude, near.longitude
    return None


def choice_options(
    *, order: Order, wanted: Mapping[int, int], near: Location, limit: int = 3,
) -> tuple[list[PickupOption], DeliveryOption | None]:
    """Where the units ``wanted`` (product id → units) of ``order`` could go now: up to ``limit``
    pickup stores that have all of them, nearest to ``near`` (the store that rejected them) first,
    and the nearest location that can ship all of them to the customer. Locations that rejected
    the order's lines are left out."""
    visible = channel_location_ids(channel=order.channel)
    excluded = _rejected_at(list(order.lines.values_list("pk", flat=True))) | {near.pk}
    here = (near.latitude, near.longitude) if near.latitude is not None and near.longitude is not None else None
    cands = load_candidates(product_ids=wanted, location_ids=visible - excluded, destination=here, require_can_ship=False)
    full = [c for c in cands if all(c.available.get(p, 0) >= q for p, q in wanted.items())]
    stores = dict(Location.objects.filter(pk__in=[c.location_id for c in full], can_pickup=True).values_list("pk", "name"))

    def by_distance(c) -> tuple[float, str]:
        return (c.distance_km if c.distance_km is not None else 1e9, c.code)

    pickups = [PickupOption(c.location_id, c.code, stores[c.location_id], None if c.distance_km is None else round(c.distance_km, 1),
                            {p: c.available.get(p, 0) for p in wanted})
               for c in sorted((c for c in full if c.location_id in stores), key=by_distance)[:limit]]
    dest = _destination(order, near)
    ship = load_candidates(product_ids=wanted, location_ids=visible - excluded, destination=dest, require_can_ship=True)
    ship_full = sorted((c for c in ship if all(c.available.get(p, 0) >= q for p, q in wanted.items())), key=by_distance)
    delivery = None
    if ship_full:
        best = ship_full[0]
        delivery = DeliveryOption(best.location_id, best.code, None if best.distance_km is None else round(best.distance_km, 1),
                                  {p: best.available.get(p, 0) for p in wanted})
    return pickups, delivery


def _missing(line: OrderLine) -> int:
    live = line.allocations.filter(status__in=_LIVE).aggregate(n=Sum("quantity"))["n"] or 0
    return line.quantity - live


def _open_line(order: Order, line_no: int, quantity: int) -> OrderLine:
    line = order_line_get(order, line_no)
    if line.status in (LineStatus.CANCELLED, LineStatus.FULFILLED):
        raise IllegalTransition(f"Line {line_no} is {line.status}; nothing to route.", code="illegal_transition",
                                details={"line": [line_no]})
    if quantity < 1 or quantity > _missing(line):
        raise Conflict(f"Line {line_no} does not lack {quantity} units (it lacks {_missing(line)}).", code="nothing_missing",
                       details={"line": [line_no]})
    return line


def _route(*, order: Order, line: OrderLine, quantity: int, only: Location | None, actor: str, kind: str) -> RerouteResult:
    needs, facts = line_needs([(line.line_no, line.product, quantity)])
    excluded = _rejected_at([line.pk])
    if only is not None and only.pk in excluded:
        raise Conflict(f"{only.code} already rejected line {line.line_no}.", code="option_unavailable",
                       details={"location": [only.code]})

    def reserve(decision):
        return allocations_reserve(plan=decision.plan, lines_by_index={line.line_no: line}, products={line.product_id: line.product})

    dest = ((only.latitude, only.longitude) if only is not None and only.latitude is not None and only.longitude is not None
            else _destination(order, order.pickup_location))
    try:
        planned = plan_and_reserve(request=RouteRequest(
            channel=order.channel, lines=needs, products=facts, destination=dest, profile=routing_profile_for(channel=order.channel),
            exclude_location_ids=frozenset(excluded), only_location_ids=frozenset({only.pk}) if only is not None else None,
            require_can_ship=only is None,
        ), reserve=reserve)
    except InsufficientStock as exc:
        where = only.code if only is not None else "any location that ships"
        raise Conflict(f"{where} no longer has {quantity} × {line.product.sku}: {exc.message}", code="option_unavailable",
                       details={"line": [line.line_no]}) from None
    if line.status == LineStatus.BACKORDERED:
        line.status_reason = ""
        transition_apply(obj=line, table=LINE_TRANSITIONS, to=LineStatus.ALLOCATED, what=f"Line {line.line_no}",
                         extra_fields=("status_reason",))
    decision_record(order=order, decision=planned.decision, kind=kind)
    mode = "pickup" if only is not None else "delivery"
    order_event_record(order=order, kind="line_routed", actor=actor, data={
        "line": line.line_no, "kind": kind, "mode": mode, "reason": planned.decision.reason,
        "plan": [{"location": p.location_code, "quantity": p.quantity} for p in planned.decision.plan]})
    order_status_refresh(order=order)
    allocations_changed_send(order)
    return RerouteResult(line.line_no, planned.reserved, False, planned.decision.reason, mode=mode)


def _line_mode_set(line: OrderLine, *, delivery: bool) -> None:
    """Keep the customer's latest answer on the line (before its units are routed: fulfillment builds
    the work from it): delivered from now on, or collected again."""
    if delivery and line.delivery_chosen_at is None:
        line.delivery_chosen_at = timezone.now()
    elif not delivery and line.delivery_chosen_at is not None:
        line.delivery_chosen_at = None
    else:
        return
    line.save(update_fields=["delivery_chosen_at"])


def order_line_route_to_pickup(*, order: Order | int, line_no: int, quantity: int, location: Location, actor: str = "system") -> RerouteResult:
    """The customer collects the units at ``location`` instead: reserved there (all or nothing)."""
    if not isinstance(location, Location) or not location.can_pickup or not location.is_active:
        raise NotFound("Not a pickup store.", code="unknown_location", details={"location": ["Not a pickup store."]})
    with transaction.atomic():
        order = order_lock(order=order)
        line = _open_line(order, line_no, quantity)
        _line_mode_set(line, delivery=False)
        return _route(order=order, line=line, quantity=quantity, only=location, actor=actor, kind="choice_pickup")


def order_line_route_for_delivery(*, order: Order | int, line_no: int, quantity: int, actor: str = "system") -> RerouteResult:
    """The customer has the units delivered: routed to locations that ship (never one that rejected
    the line). The line remembers it (``delivery_chosen_at``): a later re-route or backorder of it
    goes to any location that ships, never back to the pickup store as a pickup."""
    with transaction.atomic():
        order = order_lock(order=order)
        line = _open_line(order, line_no, quantity)
        _line_mode_set(line, delivery=True)
        return _route(order=order, line=line, quantity=quantity, only=None, actor=actor, kind="choice_delivery")


def order_line_units_give_up(*, order: Order | int, line_no: int, quantity: int, reason: str, actor: str = "system") -> RerouteResult:
    """The units are not wanted any more: recorded as cancelled, the line is done without them
    (nothing is reserved for them, so nothing is released)."""
    with transaction.atomic():
        order = order_lock(order=order)
        line = _open_line(order, line_no, quantity)
        result = line_units_give_up(order=order, line=line, quantity=quantity, actor=actor, reason=reason)
        allocations_changed_send(order)
        return result


def order_line_shortage(*, order: Order | int, line_no: int, quantity: int, reason: str, actor: str = "system") -> RerouteResult:
    """No answer came: the channel's routing profile decides, as when no location has the units —
    cancel them, or backorder the line (the backorder job routes it when stock arrives)."""
    with transaction.atomic():
        order = order_lock(order=order)
        line = _open_line(order, line_no, quantity)
        if routing_profile_for(channel=order.channel).reroute_shortage == RerouteShortage.CANCEL:
            result = line_units_give_up(order=order, line=line, quantity=quantity, actor=actor, reason=reason)
            allocations_changed_send(order)
            return result
        return line_backorder(order=order, line=line, actor=actor, reason=reason)
