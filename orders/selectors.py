"""Reads for orders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import F, Prefetch, Q, QuerySet

from allocation.models import Channel
from omni.errors import NotFound
from omni.access.roles import Principal
from orders.models import Allocation, AllocationStatus, Hold, HoldStatus, Order, OrderLine, OrderReturn, RoutingProfile
from orders.routing.engine import ProfileSpec


def routing_profile_for(*, channel: Channel) -> ProfileSpec:
    """The newest active profile of the channel, else the newest active default, else built-in."""
    # ONE query: the channel's own profiles sort before the defaults (NULL channel last).
    profile = (RoutingProfile.objects.filter(Q(channel=channel) | Q(channel__isnull=True), is_active=True)
               .order_by(F("channel_id").asc(nulls_last=True), "-version").first())
    if profile is None:
        return ProfileSpec()
    return ProfileSpec(
        name=profile.name, version=profile.version, criteria=list(profile.criteria), max_shipments=profile.max_shipments,
        allow_ship_to_store=profile.allow_ship_to_store, profile_id=profile.pk, reroute_shortage=profile.reroute_shortage,
    )


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
