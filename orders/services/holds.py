"""Checkout holds: a cart's stock reserved for a short time ("first reserve wins")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from allocation.models import Channel
from inventory.models import Location
from inventory.services import ReservationRequest, reservations_create, reservations_expire, reservations_release
from omni.errors import InsufficientStock, ValidationFailed
from omni.transitions import transition_apply
from orders.models import DeliveryMode, Hold, HoldLine, HoldStatus
from orders.routing.engine import RoutingDecision

from .allocating import line_needs, safety_floors
from .lost_sales import lost_sales_of_refused_order
from .planning import RouteRequest, plan_and_reserve
from .status import HOLD_TRANSITIONS
from .validation import LineInput, OrderInput, order_validate

MIN_TTL, MAX_TTL, DEFAULT_TTL = 30, 24 * 3600, 900


@dataclass(frozen=True)
class HoldLineInput:
    sku: Any
    quantity: Any


def hold_reference(hold: Hold, n: int) -> str:
    """The reference of a hold's n-th reservation (its owner, for the ledger check)."""
    return f"hold:{hold.pk}:{n}"


def hold_create(
    *, channel: Channel, lines: list[HoldLineInput], ttl_seconds: Any = DEFAULT_TTL, pickup_location: str = "",
    latitude: Any = None, longitude: Any = None, now: datetime | None = None, order_ref: str = "", idempotency_key: str = "",
) -> Hold:
    """Reserve a cart's units until ``now + ttl``; all lines or none (``InsufficientStock``).

    A cart refused for want of stock is demand the channel could not serve at checkout: a lost sale
    of the SKUs that lacked (as an order refused at intake), under ``order_ref`` — the order number
    the cart becomes, when the shop gives it — else ``hold:<idempotency_key>``. It counts
    once per reference and SKU: the same request again, or the order that follows under that number
    refused for the same units, adds nothing (see ``lost_sales``)."""
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or not MIN_TTL <= ttl_seconds <= MAX_TTL:
        raise ValidationFailed(f"ttl_seconds must be a whole number between {MIN_TTL} and {MAX_TTL}.", code="invalid",
                               details={"ttl_seconds": [f"Between {MIN_TTL} and {MAX_TTL}."]})
    data = OrderInput(
        external_id="hold", lines=[LineInput(sku=ln.sku, quantity=ln.quantity) for ln in lines],
        delivery_mode=DeliveryMode.BOPIS if pickup_location else DeliveryMode.STANDARD, pickup_location=pickup_location,
        latitude=latitude, longitude=longitude,
    )
    checked = order_validate(channel=channel, data=data, require_destination=False)
    now = now or timezone.now()
    expires_at = now + timedelta(seconds=ttl_seconds)
    needs, facts = line_needs([(i + 1, p, q) for i, (p, q) in enumerate(zip(checked.products, checked.quantities, strict=True))])
    products = {p.pk: p for p in checked.products}
    pickup = checked.pickup
    try:
        return _hold_create(channel=channel, checked=checked, needs=needs, facts=facts, products=products, pickup=pickup,
                            expires_at=expires_at)
    except InsufficientStock as exc:  # decided after the rollback, written once (lost_sales)
        lost_sale_ref = order_ref.strip() or (f"hold:{idempotency_key.strip()}" if idempotency_key.strip() else "")
        lost_sales_of_refused_order(channel=channel, exc=exc, order_ref=lost_sale_ref,
                                    lines=[(p, q, p.price or Decimal("0")) for p, q in
                                           zip(checked.products, checked.quantities, strict=True)])
        raise


def _hold_create(*, channel: Channel, checked: Any, needs: Any, facts: Any, products: dict[int, Any], pickup: Location | None,
                 expires_at: datetime) -> Hold:
    with transaction.atomic():
        hold = Hold.objects.create(channel=channel, expires_at=expires_at)

        def reserve(decision: RoutingDecision) -> list[int]:
            requests = [
                ReservationRequest(product=products[p.product_id], location=Location(pk=p.location_id, code=p.location_code),
                                   quantity=p.quantity, reference=hold_reference(hold, n), expires_at=expires_at)
                for n, p in enumerate(decision.plan)
            ]
            return [r.pk for r in reservations_create(requests=requests, floor_by_level=safety_floors(requests))]

        planned = plan_and_reserve(
            request=RouteRequest(channel=channel, lines=needs, products=facts, destination=checked.destination,
                                 profile=checked.profile, only_location_ids=frozenset({pickup.pk}) if pickup else None,
                                 require_can_ship=pickup is None),
            reserve=reserve,
        )
        HoldLine.objects.bulk_create([
            HoldLine(hold=hold, product_id=p.product_id, location_id=p.location_id, quantity=p.quantity, reservation_id=rid)
            for p, rid in zip(planned.decision.plan, planned.reserved, strict=True)
        ])
    return hold


def _release_lines(holds: list[Hold], *, expired: bool) -> None:
    """Give back what these holds' reservations still hold, in one pass (stock rows in primary-key
    order); reservations the expiry job released meanwhile are skipped."""
    ids = HoldLine.objects.filter(hold__in=holds, reservation_id__isnull=False).values_list("reservation_id", flat=True)
    reservations_release(reservations=[i for i in ids if i is not None], expired=expired, skip_closed=True)


def hold_release(*, hold: Hold) -> Hold:
    """The cart is abandoned or changed: give the units back now."""
    with transaction.atomic():
        hold = Hold.objects.select_for_update(of=("self",)).get(pk=hold.pk)
        hold.closed_at = timezone.now()
        transition_apply(obj=hold, table=HOLD_TRANSITIONS, to=HoldStatus.RELEASED, what=f"Hold {hold.pk}", extra_fields=("closed_at",))
        _release_lines([hold], expired=False)
    return hold


def holds_expire(*, now: datetime | None = None) -> int:
    """Release every reservation whose time is up and mark overdue holds expired.
    Safe to run twice or concurrently (rows in use are skipped and caught next time)."""
    now = now or timezone.now()
    reservations_expire(now=now)
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                Hold.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=HoldStatus.ACTIVE, expires_at__lte=now).order_by("expires_at")[:200]
            )
            _release_lines(batch, expired=True)
            for hold in batch:
                hold.closed_at = now
                transition_apply(obj=hold, table=HOLD_TRANSITIONS, to=HoldStatus.EXPIRED, what=f"Hold {hold.pk}",
                                 extra_fields=("closed_at",))
            done += len(batch)
        if len(batch) < 200:
            return done
