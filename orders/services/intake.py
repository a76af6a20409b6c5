"""Order intake: validate, apply scarcity rules, consume a hold, route, reserve — all or nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from allocation.models import Channel, ShortagePolicy
from allocation.selectors import atp_for_channel, channel_location_ids
from inventory.models import Location, Product, StockLevel
from inventory.services import reservation_release
from omni.errors import Conflict, IllegalTransition, InsufficientStock, NotFound, ValidationFailed
from orders.models import (
    CustomerTier,
    DeliveryMode,
    Hold,
    HoldStatus,
    LineStatus,
    Order,
    OrderLine,
    OrderStatus,
    PostalCentroid,
)
from orders.routing.engine import PlannedAllocation, ProfileSpec, insufficient, load_candidates, route
from orders.routing.scarcity import Claim, scarcity_decide
from orders.selectors import routing_profile_for

from .allocating import allocations_reserve, decision_record, line_needs
from .events import order_event_record
from .status import status_transition

ROUTE_ATTEMPTS = 10  # a reservation lost to a concurrent order triggers a fresh routing (each loss means another order progressed)


@dataclass(frozen=True)
class LineInput:
    sku: Any
    quantity: Any
    unit_price: Any = "0"


@dataclass(frozen=True)
class OrderInput:
    external_id: str
    lines: list[LineInput]
    customer_ref: str = ""
    customer_tier: str = CustomerTier.STANDARD
    delivery_mode: str = DeliveryMode.STANDARD
    pickup_location: str = ""
    ship_to_store: bool = False
    ship_name: str = ""
    address: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""
    latitude: Any = None
    longitude: Any = None
    hold_id: str = ""


@dataclass
class _Checked:
    products: list[Product]
    quantities: list[int]
    prices: list[Decimal]
    destination: tuple[float, float] | None
    pickup: Location | None
    profile: ProfileSpec
    extra: dict[str, Any] = field(default_factory=dict)


def _bad(message: str, code: str, field_name: str, detail: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, details={field_name: [detail]})


def _coordinate(value: Any, name: str, limit: float) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad(f"{name} must be a number.", "invalid_coordinates", name, "Must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be a number, got {value!r}.", "invalid_coordinates", name, "Must be a number.") from None
    if not -limit <= number <= limit:
        raise _bad(f"{name} must be between -{limit:g} and {limit:g}, got {number}.", "invalid_coordinates", name,
                   f"Between -{limit:g} and {limit:g}.")
    return number


def _destination(data: OrderInput) -> tuple[float, float] | None:
    lat, lon = _coordinate(data.latitude, "latitude", 90), _coordinate(data.longitude, "longitude", 180)
    if (lat is None) != (lon is None):
        raise _bad("Give both latitude and longitude, or neither.", "invalid_coordinates",
                   "longitude" if lon is None else "latitude", "Missing.")
    if lat is not None:
        return lat, lon
    if data.postal_code:
        centroid = PostalCentroid.objects.filter(
            country=(data.country or "").upper(), postal_code=data.postal_code.strip()
        ).values_list("latitude", "longitude").first()
        if centroid:
            return centroid
    return None


def order_validate(*, channel: Channel, data: OrderInput, require_destination: bool = True) -> _Checked:
    """Every check that needs no stock; raises a clear error naming the field."""
    if not channel.is_active:
        raise ValidationFailed(f"Channel {channel.code} is inactive.", code="inactive_channel", details={"channel": ["Inactive."]})
    external_id = (data.external_id or "").strip() if isinstance(data.external_id, str) else ""
    if not external_id or len(external_id) > 128:
        raise _bad("An order needs an external_id (1–128 characters).", "invalid", "external_id", "Required, at most 128 characters.")
    if data.customer_tier not in CustomerTier.values:
        raise _bad(f"customer_tier must be one of {', '.join(CustomerTier.values)}.", "invalid", "customer_tier",
                   f"Unknown tier {data.customer_tier!r}.")
    if data.delivery_mode not in DeliveryMode.values:
        raise _bad(f"delivery_mode must be one of {', '.join(DeliveryMode.values)}.", "invalid", "delivery_mode",
                   f"Unknown mode {data.delivery_mode!r}.")
    if not data.lines:
        raise _bad("An order needs at least one line.", "invalid", "lines", "At least one line.")
    if len(data.lines) > 200:
        raise _bad("An order may have at most 200 lines.", "invalid", "lines", "At most 200 lines.")
    skus = [ln.sku for ln in data.lines]
    for i, sku in enumerate(skus):
        if not isinstance(sku, str) or not sku.strip():
            raise _bad(f"Line {i + 1}: sku is required.", "invalid", f"lines[{i}].sku", "Required.")
    by_sku = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    products, quantities, prices = [], [], []
    for i, ln in enumerate(data.lines):
        product = by_sku.get(ln.sku)
        if product is None or not product.is_active:
            raise ValidationFailed(
                f"Line {i + 1}: unknown SKU {ln.sku!r}. Nothing was reserved.", code="unknown_sku",
                details={f"lines[{i}].sku": [f"No active product with SKU {ln.sku!r}."]},
            )
        qty = ln.quantity
        if isinstance(qty, bool) or not isinstance(qty, int):
            raise _bad(f"Line {i + 1} ({ln.sku}): quantity must be a whole number, got {qty!r}.", "invalid_quantity",
                       f"lines[{i}].quantity", "Must be an integer.")
        if qty <= 0:
            raise _bad(f"Line {i + 1} ({ln.sku}): quantity must be at least 1, got {qty}.", "invalid_quantity",
                       f"lines[{i}].quantity", "Must be at least 1.")
        try:
            price = Decimal(str(ln.unit_price))
        except (InvalidOperation, ValueError):
            raise _bad(f"Line {i + 1}: unit_price must be a decimal amount.", "invalid", f"lines[{i}].unit_price",
                       "Must be a decimal amount.") from None
        if not price.is_finite() or price < 0 or price.as_tuple().exponent < -2:
            raise _bad(f"Line {i + 1}: unit_price must be ≥ 0 with at most 2 decimals.", "invalid", f"lines[{i}].unit_price",
                       "At least 0, at most 2 decimals.")
        products.append(product)
        quantities.append(qty)
        prices.append(price)

    profile = routing_profile_for(channel=channel)
    pickup = None
    if data.delivery_mode == DeliveryMode.BOPIS:
        if not data.pickup_location:
            raise _bad("A BOPIS order needs a pickup_location (store code).", "pickup_required", "pickup_location", "Required for BOPIS.")
        pickup = Location.objects.filter(code=data.pickup_location).first()
        if pickup is None:
            raise _bad(f"Unknown pickup location {data.pickup_location!r}.", "unknown_location", "pickup_location",
                       f"No location with code {data.pickup_location!r}.")
        if not pickup.is_active or not pickup.can_pickup:
            raise _bad(f"{pickup.code} does not offer in-store pickup.", "pickup_not_offered", "pickup_location",
                       "Not a pickup point.")
        if data.ship_to_store and not profile.allow_ship_to_store:
            raise _bad("Ship-to-store is not allowed for this channel's routing profile.", "ship_to_store_not_allowed",
                       "ship_to_store", "Not allowed.")
        destination = (pickup.latitude, pickup.longitude) if pickup.latitude is not None else None
    else:
        if data.pickup_location:
            raise _bad("pickup_location is only for BOPIS orders.", "invalid", "pickup_location", "Only with delivery_mode bopis.")
        destination = _destination(data)
        if destination is None and require_destination:
            raise ValidationFailed(
                "A shipping order needs the delivery address's latitude and longitude, or a known country and postal code. "
                "Nothing was reserved.",
                code="missing_coordinates",
                details={"latitude": ["Required unless country + postal_code is known."],
                         "postal_code": [f"No centroid for {data.country or '?'}-{data.postal_code or '?'}."]},
            )
    return _Checked(products, quantities, prices, destination, pickup, profile)


def _lock_hold(*, channel: Channel, hold_id: str) -> Hold:
    try:
        hold = Hold.objects.select_for_update().get(pk=uuid.UUID(str(hold_id)))
    except (Hold.DoesNotExist, ValueError):
        hold = None
    if hold is None or hold.channel_id != channel.pk:
        raise NotFound(f"Hold {hold_id} does not exist.", code="unknown_hold", details={"hold_id": ["No such hold for your channel."]})
    if hold.status != HoldStatus.ACTIVE or hold.expires_at <= timezone.now():
        raise Conflict(f"Hold {hold_id} is {'expired' if hold.status == HoldStatus.ACTIVE else hold.status}; "
                       "place the order without it or create a new hold.",
                       code="hold_not_active", details={"hold_id": [f"Status {hold.status}."]})
    return hold


def _bopis_alternatives(*, channel: Channel, checked: _Checked, needs: list) -> InsufficientStock:
    """The chosen store lacks stock: which nearby pickup stores have the whole order, and can it be
    shipped to the store by transfer?"""
    pickup = checked.pickup
    wanted: dict[int, int] = {}
    for ln in needs:
        wanted[ln.product_id] = wanted.get(ln.product_id, 0) + ln.quantity
    visible = channel_location_ids(channel=channel)
    cands = load_candidates(product_ids=wanted, location_ids=visible - {pickup.pk}, destination=checked.destination,
                            require_can_ship=False)
    pickup_ids = set(Location.objects.filter(pk__in=[c.location_id for c in cands], can_pickup=True).values_list("pk", flat=True))
    full = [c for c in cands if all(c.available.get(p, 0) >= q for p, q in wanted.items())]
    stores = sorted((c for c in full if c.location_id in pickup_ids),
                    key=lambda c: (c.distance_km if c.distance_km is not None else 1e9, c.code))[:5]
    nearby = [{"location": c.code, "distance_km": None if c.distance_km is None else round(c.distance_km, 1)} for c in stores]
    pooled = {p: sum(c.available.get(p, 0) for c in cands) for p in wanted}
    transfer = checked.profile.allow_ship_to_store and all(pooled[p] >= q for p, q in wanted.items())
    here = load_candidates(product_ids=wanted, location_ids={pickup.pk}, destination=None, require_can_ship=False)
    here_avail = here[0].available if here else {}
    parts = [f"{pickup.code} cannot supply the whole order for pickup"]
    if nearby:
        parts.append("nearby stores with everything in stock: " + ", ".join(
            f"{n['location']} ({n['distance_km']} km)" if n["distance_km"] is not None else n["location"] for n in nearby))
    else:
        parts.append("no other pickup store has the whole order")
    if transfer:
        parts.append("or resend with ship_to_store=true to have it transferred to the store")
    return InsufficientStock(
        "; ".join(parts) + ". Nothing was reserved.", code="pickup_store_lacks_stock",
        details={
            "pickup_location": pickup.code,
            "lines": [{"sku": ln.sku, "requested": ln.quantity, "available": here_avail.get(ln.product_id, 0)} for ln in needs],
            "nearby_stores": nearby,
            "ship_to_store": {"allowed": checked.profile.allow_ship_to_store, "possible": transfer},
        },
    )


def _scarcity(*, channel: Channel, data: OrderInput, lines: list[OrderLine], atp: dict[int, int]) -> list[tuple[OrderLine, str]]:
    """Lines that lose a scarce SKU, with the reason. Raises when the channel rejects such orders."""
    threshold = channel.scarcity_threshold
    if not threshold or not lines:
        return []
    atp = dict(atp)
    scarce = {p for p, a in atp.items() if a < threshold}
    if not scarce:
        return []
    waiting: dict[int, list[Claim]] = {p: [] for p in scarce}
    for wl in (OrderLine.objects.filter(status=LineStatus.BACKORDERED, product_id__in=scarce)
               .select_related("order__channel").order_by("id")):
        o = wl.order
        waiting[wl.product_id].append(Claim(
            label=f"order {o.external_id} ({o.channel.code})", quantity=wl.quantity, channel_code=o.channel.code,
            margin_rank=o.channel.margin_rank, strategic_priority=o.channel.strategic_priority,
            customer_tier=o.customer_tier, delivery_mode=o.delivery_mode, created_at=o.created_at,
        ))
    losers: list[tuple[OrderLine, str]] = []
    now = timezone.now()
    for line in lines:
        if line.product_id not in scarce:
            continue
        claim = Claim(label="this order", quantity=line.quantity, channel_code=channel.code, margin_rank=channel.margin_rank,
                      strategic_priority=channel.strategic_priority, customer_tier=data.customer_tier,
                      delivery_mode=data.delivery_mode, created_at=now)
        verdict = scarcity_decide(sku=line.product.sku, claim=claim, atp=atp[line.product_id], threshold=threshold,
                                  waiting=waiting[line.product_id])
        if verdict.wins:
            atp[line.product_id] -= line.quantity
        else:
            losers.append((line, verdict.reason))
    if losers and channel.shortage_policy == ShortagePolicy.REJECT:
        text = " ".join(r for _l, r in losers)
        raise InsufficientStock(
            f"Order rejected: {text} Channel {channel.code} rejects orders that lose scarce stock. Nothing was reserved.",
            code="scarce_stock_rejected",
            details={"lines": [{"line": ln.line_no, "sku": ln.product.sku, "requested": ln.quantity, "reason": r}
                               for ln, r in losers]},
        )
    return losers


def order_create(*, channel: Channel, data: OrderInput, actor: str = "system") -> Order:
    """Place an order: every line is allocated (or backordered by the scarcity rules), or an error
    is raised and nothing is stored or reserved."""
    checked = order_validate(channel=channel, data=data)
    external_id = data.external_id.strip()
    if Order.objects.filter(channel=channel, external_id=external_id).exists():
        raise Conflict(f"Order {external_id} already exists for channel {channel.code}.", code="duplicate_order",
                       details={"external_id": ["Already used."]})
    try:
        with transaction.atomic():
            return _order_create(channel=channel, data=data, checked=checked, external_id=external_id, actor=actor)
    except IntegrityError as exc:
        if Order.objects.filter(channel=channel, external_id=external_id).exists():
            raise Conflict(f"Order {external_id} already exists for channel {channel.code}.", code="duplicate_order",
                           details={"external_id": ["Already used."]}) from exc
        raise


def _order_create(*, channel: Channel, data: OrderInput, checked: _Checked, external_id: str, actor: str) -> Order:
    hold = _lock_hold(channel=channel, hold_id=data.hold_id) if data.hold_id else None
    order = Order.objects.create(
        channel=channel, external_id=external_id, customer_ref=(data.customer_ref or "")[:128], customer_tier=data.customer_tier,
        delivery_mode=data.delivery_mode, pickup_location=checked.pickup, ship_name=(data.ship_name or "")[:200],
        address=(data.address or "")[:255], city=(data.city or "")[:80], postal_code=(data.postal_code or "")[:20],
        country=(data.country or "")[:2].upper(),
        latitude=checked.destination[0] if checked.destination and data.delivery_mode != DeliveryMode.BOPIS else None,
        longitude=checked.destination[1] if checked.destination and data.delivery_mode != DeliveryMode.BOPIS else None,
        routing_profile_id=checked.profile.profile_id, hold=hold,
    )
    lines = OrderLine.objects.bulk_create([
        OrderLine(order=order, line_no=i + 1, product=p, quantity=q, unit_price=price)
        for i, (p, q, price) in enumerate(zip(checked.products, checked.quantities, checked.prices, strict=True))
    ])
    by_no = {ln.line_no: ln for ln in lines}
    products = {p.pk: p for p in checked.products}
    order_event_record(order=order, kind="created", actor=actor, data={
        "delivery_mode": order.delivery_mode, "customer_tier": order.customer_tier,
        "lines": [{"line": ln.line_no, "sku": ln.product.sku, "quantity": ln.quantity} for ln in lines],
    })

    # 1. A checkout hold already won its units: hand them to the order's lines.
    held_plan: list[PlannedAllocation] = []
    open_qty = {ln.line_no: ln.quantity for ln in lines}
    if hold is not None:
        hold_lines = list(hold.lines.select_related("location").order_by("id"))
        for hl in hold_lines:
            left = hl.quantity
            for ln in lines:
                if ln.product_id != hl.product_id or not open_qty[ln.line_no] or not left:
                    continue
                q = min(left, open_qty[ln.line_no])
                held_plan.append(PlannedAllocation(ln.line_no, ln.product_id, hl.location_id, hl.location.code, q))
                open_qty[ln.line_no] -= q
                left -= q
        hold.closed_at = timezone.now()
        status_transition(obj=hold, choices=HoldStatus, to=HoldStatus.CONSUMED, what=f"Hold {hold.pk}", extra_fields=("closed_at",))
        order_event_record(order=order, kind="hold_consumed", actor=actor, data={
            "hold": str(hold.pk), "allocations": [{"line": p.line_index, "location": p.location_code, "quantity": p.quantity}
                                                  for p in held_plan]})

    # 2. Scarcity: lines that lose a scarce SKU are backordered (or the order is rejected).
    fully_held = {no for no, q in open_qty.items() if q == 0}
    scarcity_lines = [ln for ln in lines if ln.line_no not in fully_held and open_qty[ln.line_no] == ln.quantity]
    routable = [ln for ln in lines if open_qty[ln.line_no]]
    # ATP is what the channel may sell (the allocation app's figure: visibility, safety stock, quotas).
    atp = atp_for_channel(channel=channel, product_ids=[ln.product_id for ln in routable]) if routable else {}
    losers = _scarcity(channel=channel, data=data, lines=scarcity_lines, atp=atp)
    lost = {ln.line_no for ln, _r in losers}
    wanted: dict[int, int] = {}
    for ln in routable:
        if ln.line_no not in lost:
            wanted[ln.product_id] = wanted.get(ln.product_id, 0) + open_qty[ln.line_no]
    if any(q > atp.get(p, 0) for p, q in wanted.items()) and not (checked.pickup is not None and not data.ship_to_store):
        needs_all, _facts = line_needs([(ln.line_no, products[ln.product_id], open_qty[ln.line_no])
                                        for ln in routable if ln.line_no not in lost])
        raise insufficient(needs_all, atp)

    # 3. Route what is left and reserve it together with the held units: all or nothing.
    to_route = [(ln.line_no, products[ln.product_id], open_qty[ln.line_no]) for ln in lines
                if open_qty[ln.line_no] and ln.line_no not in lost]
    needs, facts = line_needs(to_route)
    pickup = checked.pickup
    bopis_here = pickup is not None and not data.ship_to_store
    decision = None
    for attempt in range(ROUTE_ATTEMPTS):
        if needs:
            try:
                decision = route(
                    channel=channel, lines=needs, products=facts, destination=checked.destination, profile=checked.profile,
                    only_location_ids={pickup.pk} if bopis_here else None, require_can_ship=not bopis_here,
                )
            except InsufficientStock:
                if bopis_here:
                    raise _bopis_alternatives(channel=channel, checked=checked, needs=needs) from None
                raise
        plan = held_plan + (decision.plan if decision else [])
        if attempt == 0 and hold is not None:
            # Routing saw the held units as taken; now hand them over (same transaction, rows stay locked).
            # Lock every stock row involved in primary-key order first, so that two orders consuming
            # holds cannot deadlock (release and reserve would otherwise lock rows in plan order).
            keys = {(p.product_id, p.location_id) for p in plan} | {(hl.product_id, hl.location_id) for hl in hold_lines}
            if keys:
                list(StockLevel.objects.select_for_update().filter(
                    Q(*[Q(product_id=pid, location_id=lid) for pid, lid in keys], _connector=Q.OR)).order_by("pk").values_list("pk"))
            for hl in hold_lines:
                if hl.reservation_id:
                    try:
                        reservation_release(reservation=hl.reservation_id)
                    except IllegalTransition:
                        raise Conflict(f"Hold {hold.pk} expired while the order was placed.", code="hold_not_active",
                                       details={"hold_id": ["Expired."]}) from None
        try:
            allocations_reserve(plan=plan, lines_by_index=by_no, products=products,
                                ship_to_store=pickup if pickup is not None and data.ship_to_store else None)
            break
        except InsufficientStock:
            if attempt == ROUTE_ATTEMPTS - 1:
                raise
    if decision is not None:
        decision_record(order=order, decision=decision, kind="intake")
        order_event_record(order=order, kind="routed", actor="system", data={
            "profile": f"{decision.profile.name} v{decision.profile.version}" if decision.profile.version else decision.profile.name,
            "plan": [{"line": p.line_index, "location": p.location_code, "quantity": p.quantity} for p in decision.plan],
            "reason": decision.reason,
        })
    for ln, reason in losers:
        status_transition(obj=ln, choices=LineStatus, to=LineStatus.BACKORDERED, what=f"Line {ln.line_no}")
        ln.status_reason = reason[:255]
        ln.save(update_fields=["status_reason"])
        order_event_record(order=order, kind="line_backordered", actor="system", data={"line": ln.line_no, "reason": reason})
    if losers:
        status_transition(obj=order, choices=OrderStatus, to=OrderStatus.BACKORDERED, what=f"Order {order.external_id}")
    return order


