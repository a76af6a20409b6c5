"""BOPIS: when the chosen pickup store cannot supply the whole order, the error says which
nearby pickup stores can, and whether a transfer to the chosen store (ship-to-store) would."""

from __future__ import annotations

from collections.abc import Sequence

from allocation.models import Channel
from allocation.selectors import channel_location_ids
from inventory.models import Location
from omni.errors import InsufficientStock
from orders.routing.criteria import LineNeed
from orders.routing.engine import load_candidates

from .validation import CheckedOrder


def bopis_alternatives(*, channel: Channel, checked: CheckedOrder, needs: Sequence[LineNeed]) -> InsufficientStock:
    """The chosen store lacks stock: which nearby pickup stores have the whole order, and can it be
    shipped to the store by transfer?"""
    pickup = checked.pickup
    assert pickup is not None, "asked only for a pickup order"
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
            f"{c.code} ({round(c.distance_km, 1)} km)" if c.distance_km is not None else c.code for c in stores))
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
