"""Reads for orders."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from allocation.models import Channel
from allocation.selectors import channel_sellable_location_ids, location_availability
from inventory.models import Location
from inventory.selectors import capacity_used
from omni.config_cache import ConfigCache
from omni.errors import NotFound
from omni.geo import haversine_km
from omni.access.roles import Principal
from orders.models import (
    INTAKE_LOST_SALE_REASONS, Allocation, AllocationStatus, DeliveryMode, Hold, HoldStatus, LostSale, Order, OrderLine, OrderReturn,
    RoutingProfile,
)
from orders.routing.engine import ProfileSpec


# channel id → the row of the profile it routes with (None: the built-in one). Cleared on every save
# or delete of a profile in this process (``routing_profile_save``'s retiring ``update`` too).
_PROFILE_ROWS: ConfigCache[int, tuple[Any, ...] | None] = ConfigCache("routing profile by channel")
_PROFILE_ROWS.clear_on_change(RoutingProfile)


def routing_profiles_changed() -> None:
    """Profiles were written without ``save()`` (``QuerySet.update``): the next order reads them again."""
    _PROFILE_ROWS.clear_now_and_on_commit()


def routing_profile_for(*, channel: Channel) -> ProfileSpec:
    """The newest active profile of the channel, else the newest active default, else built-in.
    Kept per process (``omni.config_cache``): every order reads it, profiles change rarely."""
    row = _PROFILE_ROWS.get_many([channel.pk], _profile_rows, missing=None)[channel.pk]
    if row is None:
        return ProfileSpec()
    pk, name, version, criteria, max_shipments, allow_ship_to_store, reroute_shortage = row
    # Parsed anew for each caller: the cached row is text, a criteria list of dicts is mutable.
    criteria = json.loads(criteria) if isinstance(criteria, (str, bytes)) else copy.deepcopy(criteria)
    return ProfileSpec(
        name=name, version=version, criteria=list(criteria), max_shipments=max_shipments,
        allow_ship_to_store=bool(allow_ship_to_store), profile_id=pk, reroute_shortage=reroute_shortage,
    )


def _profile_rows(channel_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    # ONE query per channel: its own profiles sort before the defaults (NULL channel last). Plain
    # SQL: the ORM took 0.5 ms of CPU to build it and a model.
    rows = {}
    with connection.cursor() as cursor:
        for channel_id in channel_ids:
            cursor.execute(
                f"SELECT id, name, version, criteria, max_shipments, allow_ship_to_store, reroute_shortage "
                f"FROM {RoutingProfile._meta.db_table} WHERE (channel_id = %s OR channel_id IS NULL) AND is_active = %s "
                f"ORDER BY channel_id ASC NULLS LAST, version DESC LIMIT 1", [channel_id, True])
            row = cursor.fetchone()
            if row is not None:
                rows[channel_id] = tuple(row)
    return rows


def lost_sales_not_bought_later(queryset: QuerySet[LostSale]) -> QuerySet[LostSale]:
    """Lost sales less those the customer bought after all: a checkout cart or an order refused at
    intake under an order number, then an order accepted under that number in the same channel, at
    or after the refusal, with a line of that SKU (the shop retried once stock came back). A
    rejected line's units given up stay lost: the order they belonged to exists by definition."""
    return queryset.exclude(_bought_later())


def lost_sales_with_bought_later(queryset: QuerySet[LostSale]) -> QuerySet[LostSale]:
    """Each lost sale with ``bought_later`` (see ``lost_sales_not_bought_later``), for the admin's list."""
    return queryset.annotate(bought_later=_bought_later())


def _bought_later() -> Q:
    bought = OrderLine.objects.filter(order__channel_id=OuterRef("channel_id"), order__external_id=OuterRef("order_ref"),
                                      product_id=OuterRef("product_id"), order__created_at__gte=OuterRef("created_at"))
    return Q(Exists(bought), reason__in=INTAKE_LOST_SALE_REASONS) & ~Q(order_ref="")


def orders_visible(*, principal: Principal) -> QuerySet[Order]:
    """Orders a principal may see: a partner token only its channel's; merchandisers all."""
    qs = Order.objects.select_related("channel", "pickup_location")
    if principal.is_merchandiser:
        return qs
    if principal.is_partner and principal.channel_id is not None:
        return qs.filter(channel_id=principal.channel_id)
    return qs.none()


def order_detail_queryset(*, principal: Principal, any_channel: bool = False) -> QuerySet[Order]:
    base = Order.objects.select_related("channel", "pickup_location") if any_channel else orders_visible(principal=principal)
    return base.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("product").prefetch_related(
            Prefetch("allocations", queryset=Allocation.objects.select_related("location", "ship_to_store")))),
        "events",
        Prefetch("returns", queryset=OrderReturn.objects.select_related("location").prefetch_related("lines__line")),
    )


def order_get(*, principal: Principal, order_id: int, any_channel: bool = False) -> Order:
    """One order with lines, allocations and events; ``any_channel`` only for callers already
    authorised across channels (store staff taking a return at their own location)."""
    try:
        return order_detail_queryset(principal=principal, any_channel=any_channel).get(pk=order_id)
    except (Order.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Order {order_id} does not exist.", code="unknown_order",
                       details={"order": ["No such order for your channel."]}) from None


def _ids(references: Sequence[str], parse) -> dict[str, object]:
    out = {}
    for ref in references:
        try:
            out[ref] = parse(ref.split(":")[1])
        except (IndexError, ValueError):
            continue  # not a reference orders wrote: no live owner
    return out


def allocation_references_live(references: Sequence[str]) -> set[str]:
    """``order-allocation:<id>`` references whose allocation exists and still holds its units."""
    ids = _ids(references, int)
    live = set(Allocation.objects.filter(pk__in=set(ids.values()), status=AllocationStatus.RESERVED).values_list("pk", flat=True))
    return {ref for ref, pk in ids.items() if pk in live}


def hold_references_live(references: Sequence[str]) -> set[str]:
    """``hold:<uuid>:<n>`` references whose hold exists and is active (an overdue one is still
    live until the expiry job closes it)."""
    ids = _ids(references, uuid.UUID)
    live = set(Hold.objects.filter(pk__in=set(ids.values()), status=HoldStatus.ACTIVE).values_list("pk", flat=True))
    return {ref for ref, pk in ids.items() if pk in live}


def allocations_of_order(*, order_id: int) -> list[Allocation]:
    """Every allocation of an order (any status) with its line, product, location and ship-to-store
    store, in id order: what fulfillment builds its work from."""
    return list(Allocation.objects.filter(line__order_id=order_id)
                .select_related("line__order", "line__product", "location", "ship_to_store").order_by("id"))


def allocation_statuses(*, allocation_ids: Sequence[int]) -> dict[int, str]:
    """allocation id → status."""
    return dict(Allocation.objects.filter(pk__in=list(allocation_ids)).values_list("pk", "status"))


@dataclass(frozen=True)
class ReturnableLine:
    """What of one order line can still come back: delivered (fulfilled allocations) less returned."""

    line_no: int
    sku: str
    name: str
    delivered: int
    returned: int

    @property
    def returnable(self) -> int:
        return max(self.delivered - self.returned, 0)


def order_returnable(*, order: Order | int) -> list[ReturnableLine]:
    """Every line of the order with what was delivered and returned (the rule ``order_return``
    checks), in line order. One query."""
    from django.db.models import Q, Sum
    from django.db.models.functions import Coalesce

    order_id = order.pk if isinstance(order, Order) else order
    rows = (OrderLine.objects.filter(order_id=order_id)
            .annotate(delivered=Coalesce(Sum("allocations__quantity", filter=Q(allocations__status=AllocationStatus.FULFILLED)), 0))
            .values_list("line_no", "product__sku", "product__name", "delivered", "quantity_returned").order_by("line_no"))
    return [ReturnableLine(line_no=n, sku=sku, name=name, delivered=d, returned=r) for n, sku, name, d, r in rows]


# --- manual pin: where a merchandiser may move a line, and what each place has ------------------

@dataclass(frozen=True)
class PinNeed:
    """What pinning a line to a location would move there: the reserved allocations of the line at
    other locations, and the units the line still lacks (its backordered rest)."""

    moving: list[Allocation]
    missing: int
    held_there: int  # units of the line already reserved at the location (they stay)

    @property
    def units(self) -> int:
        return sum(a.quantity for a in self.moving) + self.missing


def pin_need(*, line: OrderLine, location_id: int, allocations: Sequence[Allocation] | None = None) -> PinNeed:
    """What a pin of ``line`` to the location moves (``allocations``: the line's, in id order, when
    the caller has them already — one read for every candidate location)."""
    allocs = list(line.allocations.select_related("location").order_by("id")) if allocations is None else list(allocations)
    reserved = [a for a in allocs if a.status == AllocationStatus.RESERVED]
    # units fulfilled, reserved or given up by the customer are not missing (as in re-routing)
    kept = sum(a.quantity for a in allocs if a.status in (AllocationStatus.RESERVED, AllocationStatus.FULFILLED,
                                                          AllocationStatus.CANCELLED))
    return PinNeed(moving=[a for a in reserved if a.location_id != location_id], missing=max(line.quantity - kept, 0),
                   held_there=sum(a.quantity for a in reserved if a.location_id == location_id))


def pin_refusal(*, order: Order, location: Location, sellable: set[int], allow_ship_to_store: bool, delivery: bool = False) -> str:
    """Why a line of ``order`` may not be pinned to ``location`` for its delivery mode and channel
    ("" when it may); ``delivery``: a pickup order's line the customer chose to have delivered.
    Stock and capacity are decided by the reservation itself."""
    if not location.is_active:
        return f"{location.code} is inactive."
    if location.pk not in sellable:
        return f"Channel {order.channel.code} does not sell from {location.code}."
    if delivery:
        if not location.can_ship:
            return f"{location.code} does not ship to customers (the customer chose delivery for this line)."
    elif order.delivery_mode == DeliveryMode.BOPIS and order.pickup_location_id != location.pk:
        if not location.can_ship:
            return f"{location.code} cannot ship the units to the pickup store."
        if not allow_ship_to_store:
            return "The channel's routing profile does not allow ship-to-store; only the pickup store can serve this line."
    elif order.delivery_mode != DeliveryMode.BOPIS and not location.can_ship:
        return f"{location.code} does not ship to customers."
    return ""


@dataclass(frozen=True)
class PinCandidate:
    location_id: int
    code: str
    name: str
    kind: str
    available: int  # on hand − reserved − location safety stock of the line's SKU there
    distance_km: float | None
    capacity_left: int | None  # orders it can still take today; None: no daily limit
    units: int  # what the pin would reserve there
    refusal: str  # "" when the line can be pinned here

    @property
    def eligible(self) -> bool:
        return not self.refusal


def pin_candidates(*, order: Order, line_no: int) -> list[PinCandidate]:
    """Every location the order's channel sells from, with the line's SKU available there, its
    distance to the customer (or the pickup store), today's capacity left, and why a pin there would
    be refused (delivery mode, too little stock, no capacity left); eligible first, nearest first."""
    line = order.lines.select_related("product").filter(line_no=line_no).first()
    if line is None:
        raise NotFound(f"Order {order.external_id} has no line {line_no}.", code="unknown_line", details={"line": [line_no]})
    sellable = channel_sellable_location_ids(channel=order.channel)
    locations = list(Location.objects.filter(pk__in=sellable).order_by("code"))
    avail = {la.location_id: la.available for la in location_availability(product_ids=[line.product_id], location_ids=sellable)}
    used = capacity_used(location_ids=[loc.pk for loc in locations if loc.daily_capacity is not None])
    here = set(Allocation.objects.filter(line__order=order, status__in=[AllocationStatus.RESERVED, AllocationStatus.FULFILLED])
               .values_list("location_id", flat=True))
    allow_sts = routing_profile_for(channel=order.channel).allow_ship_to_store
    pickup = order.pickup_location
    dest = ((pickup.latitude, pickup.longitude) if pickup is not None else (order.latitude, order.longitude))
    out = []
    line_allocs = list(line.allocations.select_related("location").order_by("id"))
    for loc in locations:
        need = pin_need(line=line, location_id=loc.pk, allocations=line_allocs)
        left = None if loc.daily_capacity is None else max(loc.daily_capacity - used.get(loc.pk, 0), 0)
        refusal = pin_refusal(order=order, location=loc, sellable=sellable, allow_ship_to_store=allow_sts,
                              delivery=line.delivered_on_request)
        if not refusal and need.units == 0:
            refusal = f"The line's open units are all at {loc.code} already."
        elif not refusal and avail.get(loc.pk, 0) < need.units:
            refusal = f"Only {avail.get(loc.pk, 0)} of {need.units} available at {loc.code}."
        elif not refusal and left == 0 and loc.pk not in here:
            refusal = f"{loc.code} has no capacity left today."
        km = (None if None in (dest[0], dest[1], loc.latitude, loc.longitude)
              else round(haversine_km(dest[0], dest[1], loc.latitude, loc.longitude), 1))  # type: ignore[arg-type]
        out.append(PinCandidate(location_id=loc.pk, code=loc.code, name=loc.name, kind=loc.kind, available=avail.get(loc.pk, 0),
                                distance_km=km, capacity_left=left, units=need.units, refusal=refusal))
    return sorted(out, key=lambda c: (not c.eligible, c.distance_km if c.distance_km is not None else float("inf"), c.code))
