"""Order intake: validate, consume a checkout hold, apply the scarcity rules, route, reserve —
all or nothing. The steps live in their own modules (``validation``, ``scarcity``, ``planning``,
``bopis``); this module keeps the flow."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from allocation.models import Channel
from allocation.selectors import atp_for_channel, planning_context, planning_context_read_ahead
from omni.bulk import bulk_insert_chain
from omni.errors import Conflict, IllegalTransition, InsufficientStock, NotFound
from omni.instances import new
from omni.transitions import transition_apply
from inventory.models import Location
from inventory.selectors import locations_by_id
from orders.models import (
    Allocation, DeliveryMode, Hold, HoldLine, HoldStatus, LineStatus, Order, OrderEvent, OrderLine, OrderStatus,
)
from orders.routing.engine import PlannedAllocation, RoutingDecision, candidates_read_ahead, insufficient

from ..signals import allocations_changed
from .allocating import HeldUnits, allocations_reserve, decision_record, line_needs
from .bopis import bopis_alternatives
from .events import OrderEventBatch
from .lost_sales import lost_sales_of_refused_order
from .planning import RouteRequest, plan_and_reserve
from .scarcity import scarcity_losers
from .status import HOLD_TRANSITIONS, LINE_TRANSITIONS, ORDER_TRANSITIONS
from .validation import CheckedOrder, OrderInput, order_validate

_M = TypeVar("_M", bound=Model)


def _lock_hold(*, channel: Channel, hold_id: str) -> Hold:
    try:
        hold = Hold.objects.select_for_update(of=("self",)).get(pk=uuid.UUID(str(hold_id)))
    except (Hold.DoesNotExist, ValueError):
        hold = None
    if hold is None or hold.channel_id != channel.pk:
        raise NotFound(f"Hold {hold_id} does not exist.", code="unknown_hold", details={"hold_id": ["No such hold for your channel."]})
    if hold.status != HoldStatus.ACTIVE or hold.expires_at <= timezone.now():
        raise Conflict(f"Hold {hold_id} is {'expired' if hold.status == HoldStatus.ACTIVE else hold.status}; "
                       "place the order without it or create a new hold.",
                       code="hold_not_active", details={"hold_id": [f"Status {hold.status}."]})
    return hold


def _duplicate(channel: Channel, external_id: str) -> Conflict:
    return Conflict(f"Order {external_id} already exists for channel {channel.code}.", code="duplicate_order",
                    details={"external_id": ["Already used."]})


def order_create(*, channel: Channel, data: OrderInput, actor: str = "system") -> Order:
    """Place an order: every line is allocated (or backordered by the scarcity rules), or an error
    is raised and nothing is stored or reserved."""
    checked = order_validate(channel=channel, data=data)
    external_id = data.external_id.strip()
    # Without a hold no look-up first: the unique (channel, external id) index refuses a duplicate
    # at the insert (rolled back to the savepoint below), a round trip saved per order. With a hold
    # the duplicate must be named before the hold (consumed by the first order) is looked at.
    if data.hold_id and Order.objects.filter(channel=channel, external_id=external_id).exists():
        raise _duplicate(channel, external_id)
    try:
        with transaction.atomic():
            return _order_create(channel=channel, data=data, checked=checked, external_id=external_id, actor=actor)
    except InsufficientStock as exc:  # refused demand: a lost sale (decided after the rollback, see lost_sales)
        _refusal_record(channel=channel, checked=checked, exc=exc, external_id=external_id)
        raise
    except IntegrityError as exc:
        if Order.objects.filter(channel=channel, external_id=external_id).exists():
            raise _duplicate(channel, external_id) from exc
        raise


def _refusal_record(*, channel: Channel, checked: CheckedOrder, exc: InsufficientStock, external_id: str) -> None:
    lost_sales_of_refused_order(channel=channel, exc=exc, order_ref=external_id,
                                lines=list(zip(checked.products, checked.quantities, checked.prices, strict=True)))


def _held_units(hold_lines: list[HoldLine], lines: list[OrderLine], open_qty: dict[int, int]) -> list[HeldUnits]:
    """Give the hold's units to the order's lines of the same SKU (``open_qty`` shrinks)."""
    held = []
    for hl in hold_lines:
        left = hl.quantity
        for ln in lines:
            if ln.product_id != hl.product_id or not open_qty[ln.line_no] or not left or not hl.reservation_id:
                continue
            q = min(left, open_qty[ln.line_no])
            held.append(HeldUnits(PlannedAllocation(ln.line_no, ln.product_id, hl.location_id, hl.location.code, q), hl.reservation_id))
            open_qty[ln.line_no] -= q
            left -= q
    return held


def _order_create(*, channel: Channel, data: OrderInput, checked: CheckedOrder, external_id: str, actor: str) -> Order:
    hold = _lock_hold(channel=channel, hold_id=data.hold_id) if data.hold_id else None
    # ``bulk_insert_chain``: the same rows as ``create``/``bulk_create``, the order and its lines
    # in ONE statement (each line takes the order's new key inside it; omni/bulk.py)
    order = new(
        Order, channel=channel, external_id=external_id, customer_ref=(data.customer_ref or "")[:128], customer_tier=data.customer_tier,
        delivery_mode=data.delivery_mode, pickup_location=checked.pickup, ship_name=(data.ship_name or "")[:200],
        customer_email=(data.customer_email or "").strip()[:254], customer_phone=(data.customer_phone or "").strip()[:32],
        customer_language=(data.customer_language or "").strip().lower()[:8],
        address=(data.address or "")[:255], city=(data.city or "")[:80], postal_code=(data.postal_code or "")[:20],
        country=(data.country or "")[:2].upper(),
        latitude=checked.destination[0] if checked.destination and data.delivery_mode != DeliveryMode.BOPIS else None,
        longitude=checked.destination[1] if checked.destination and data.delivery_mode != DeliveryMode.BOPIS else None,
        routing_profile_id=checked.profile.profile_id, hold=hold,
    )
    lines = [
        new(OrderLine, order=order, line_no=i + 1, product=p, quantity=q, unit_price=price)
        for i, (p, q, price) in enumerate(zip(checked.products, checked.quantities, checked.prices, strict=True))
    ]
    if hold is None:  # every line is routed: the planning context's read goes with the insert
        planning_context_read_ahead(channel=channel)
    bulk_insert_chain((Order, [order]), (OrderLine, lines))
    by_no = {ln.line_no: ln for ln in lines}
    products = {p.pk: p for p in checked.products}
    events = OrderEventBatch(order)  # the timeline, written in one insert below
    events.add(kind="created", actor=actor, data={
        "delivery_mode": order.delivery_mode, "customer_tier": order.customer_tier,
        "lines": [{"line": ln.line_no, "sku": ln.product.sku, "quantity": ln.quantity} for ln in lines],
    })

    # 1. A checkout hold already won its units: they go to the order's lines (handed over below).
    open_qty = {ln.line_no: ln.quantity for ln in lines}
    held: list[HeldUnits] = []
    hold_reservations: list[int] = []
    if hold is not None:
        hold_lines = list(hold.lines.select_related("location").order_by("id"))
        hold_reservations = [hl.reservation_id for hl in hold_lines if hl.reservation_id]
        held = _held_units(hold_lines, lines, open_qty)
        hold.closed_at = timezone.now()
        transition_apply(obj=hold, table=HOLD_TRANSITIONS, to=HoldStatus.CONSUMED, what=f"Hold {hold.pk}", extra_fields=("closed_at",))
        events.add(kind="hold_consumed", actor=actor, data={
            "hold": str(hold.pk), "allocations": [{"line": h.planned.line_index, "location": h.planned.location_code,
                                                   "quantity": h.planned.quantity} for h in held]})

    # 2. Scarcity, judged on this channel's ATP: lines that lose a scarce SKU are backordered
    #    (or the order is rejected). The same figure says whether the rest can be sold at all.
    fully_held = {no for no, q in open_qty.items() if q == 0}
    scarcity_lines = [ln for ln in lines if ln.line_no not in fully_held and open_qty[ln.line_no] == ln.quantity]
    routable = [ln for ln in lines if open_qty[ln.line_no]]
    # ONE planning context per request: the ATP check and routing read the same locations,
    # capacity counters and accuracy.
    context = planning_context(channel=channel) if routable else None
    pickup = checked.pickup
    bopis_here = pickup is not None and not data.ship_to_store
    route_at = timezone.now()
    if context is not None:
        # routing's candidates (as step 3 asks for them when scarcity takes no line) go with the
        # ATP statement, not in a round trip of their own after it
        candidates_read_ahead(channel=channel, product_ids=[ln.product_id for ln in routable], destination=checked.destination,
                              profile=checked.profile, context=context, now=route_at,
                              only_location_ids=frozenset({pickup.pk}) if bopis_here and pickup is not None else None,
                              require_can_ship=not bopis_here)
    atp = atp_for_channel(channel=channel, product_ids=[ln.product_id for ln in routable], context=context) if routable else {}
    losers = scarcity_losers(channel=channel, customer_tier=data.customer_tier, delivery_mode=data.delivery_mode,
                             lines=scarcity_lines, channel_atp=atp)
    lost = {ln.line_no for ln, _r in losers}
    wanted: dict[int, int] = {}
    for ln in routable:
        if ln.line_no not in lost:
            wanted[ln.product_id] = wanted.get(ln.product_id, 0) + open_qty[ln.line_no]
    if any(q > atp.get(p, 0) for p, q in wanted.items()) and not bopis_here:
        needs_all, _facts = line_needs([(ln.line_no, products[ln.product_id], open_qty[ln.line_no])
                                        for ln in routable if ln.line_no not in lost])
        raise insufficient(needs_all, atp)

    # 3. Route what is left and reserve it together with the hand-over of the held units: all or nothing.
    needs, facts = line_needs([(ln.line_no, products[ln.product_id], open_qty[ln.line_no]) for ln in lines
                               if open_qty[ln.line_no] and ln.line_no not in lost])
    ship_to_store = pickup if pickup is not None and data.ship_to_store else None

    hold_id = hold.pk if hold is not None else None
    # the allocations' locations (the process's cached rows): the reservations take theirs from
    # here, and the order keeps them with its allocations (``_keep_in_hand``)
    locations: dict[int, Location] = {}

    def reserve(decision: RoutingDecision | None) -> list[Allocation]:
        plan = decision.plan if decision else []
        wanted = {p.location_id for p in plan} | {h.planned.location_id for h in held}
        if wanted:
            locations.update(locations_by_id(location_ids=wanted))
        try:
            return allocations_reserve(plan=plan, lines_by_index=by_no, products=products,
                                ship_to_store=ship_to_store, held=held, release_rest_of=hold_reservations, new_order=True,
                                stock_rows=decision.stock_rows if decision else None, locations=locations)
        except IllegalTransition:  # a hold reservation was released meanwhile (expired)
            raise Conflict(f"Hold {hold_id} expired while the order was placed.", code="hold_not_active",
                           details={"hold_id": ["Expired."]}) from None

    if needs:
        planned = plan_and_reserve(
            request=RouteRequest(
                channel=channel, lines=needs, products=facts, destination=checked.destination, profile=checked.profile,
                only_location_ids=frozenset({pickup.pk}) if bopis_here and pickup is not None else None,
                require_can_ship=not bopis_here, context=context, now=route_at,
            ),
            reserve=reserve,
            unroutable=(lambda _exc: bopis_alternatives(channel=channel, checked=checked, needs=needs)) if bopis_here else None,
        )
        decision = planned.decision
        allocations = planned.reserved
        decision_record(order=order, decision=decision, kind="intake", batch=events)
        events.add(kind="routed", actor="system", data={
            "profile": f"{decision.profile.name} v{decision.profile.version}" if decision.profile.version else decision.profile.name,
            "plan": [{"line": p.line_index, "location": p.location_code, "quantity": p.quantity} for p in decision.plan],
            "reason": decision.reason, "attempts": planned.attempts,
        })
    else:
        allocations = reserve(None)
    for ln, reason in losers:
        ln.status_reason = reason[:255]
        transition_apply(obj=ln, table=LINE_TRANSITIONS, to=LineStatus.BACKORDERED, what=f"Line {ln.line_no}",
                         extra_fields=("status_reason",))
        events.add(kind="line_backordered", actor="system", data={"line": ln.line_no, "reason": reason})
    if losers:
        transition_apply(obj=order, table=ORDER_TRANSITIONS, to=OrderStatus.BACKORDERED, what=f"Order {order.external_id}")
    # Nothing reads the timeline's or the decision's keys before the commit: they go with the
    # transaction's next statement (the works' insert, the key's answer, at the latest the COMMIT).
    written = events.flush(keys=False)
    _keep_in_hand(order=order, lines=lines, allocations=allocations, events=written, locations=locations)
    # The order's row was inserted in this transaction: no one else can see it, so the receivers
    # need neither lock it nor read back the allocations handed to them.
    allocations_changed.send(sender=Order, order_id=order.pk, new_order=order, allocations=allocations)
    return order


def _keep_in_hand(*, order: Order, lines: list[OrderLine], allocations: list[Allocation], events: list[OrderEvent],
                  locations: dict[int, Location]) -> None:
    """Keep what intake wrote with ``order`` (each allocation with its location, its line and
    product): fulfilment builds the work from it and the API answers from it (``order_as_written``)
    instead of reading back, in three and five queries, what this transaction has just written.
    The allocations' locations come from the process's cache of location rows (no query):
    ``locations``, those reserving read; any other is read from the cache now."""
    missing = {a.location_id for a in allocations} - locations.keys()
    if missing:
        locations = {**locations, **locations_by_id(location_ids=missing)}
    for alloc in allocations:
        alloc.location = locations[alloc.location_id]
    # ``events`` in the order written (their keys ascend in that order; they have none yet here)
    order._as_written = (list(lines), sorted(allocations, key=lambda a: a.pk), list(events))  # type: ignore[attr-defined]


def order_as_written(order: Order) -> Order:
    """A copy of an order ``order_create`` just returned, with its lines, allocations, events and
    (no) returns as Django's prefetch caches — what ``order_get`` would read back, without reading.
    The copy is the caller's to serialise: the order itself keeps no cache that a later change
    could make stale. An order from anywhere else is returned as it is."""
    written = getattr(order, "_as_written", None)
    if written is None:
        return order
    lines, allocations, events = written
    copy = Order.from_db(order._state.db, [f.attname for f in Order._meta.concrete_fields],
                         [getattr(order, f.attname) for f in Order._meta.concrete_fields])
    copy.channel, copy.pickup_location = order.channel, order.pickup_location
    by_line: dict[int, list[Allocation]] = {ln.pk: [] for ln in lines}
    for alloc in allocations:
        by_line[alloc.line_id].append(alloc)
    out_lines = []
    for ln in sorted(lines, key=lambda ln: ln.line_no):
        line = OrderLine.from_db(ln._state.db, [f.attname for f in OrderLine._meta.concrete_fields],
                                 [getattr(ln, f.attname) for f in OrderLine._meta.concrete_fields])
        line.product = ln.product
        line._prefetched_objects_cache = {"allocations": _cached(line.allocations.all(), by_line[ln.pk])}  # type: ignore[attr-defined]
        out_lines.append(line)
    copy._prefetched_objects_cache = {  # type: ignore[attr-defined]
        "lines": _cached(copy.lines.all(), out_lines),
        "events": _cached(copy.events.all(), events),
        "returns": _cached(copy.returns.all(), []),
    }
    return copy


def _cached(queryset: QuerySet[_M], rows: list[_M]) -> QuerySet[_M]:
    """``queryset`` already evaluated to ``rows``, as ``prefetch_related`` leaves it: iterating it
    reads nothing, filtering it (``.get``, ``.filter``) still asks the database."""
    queryset._result_cache = rows
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    return queryset
