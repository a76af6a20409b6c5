"""BOPIS: the pickup-capable stores near a customer that can serve an order now."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from inventory.models import Location, LocationKind
from inventory.selectors import locations_at_capacity
from omni.geo import haversine_km

from allocation.channels.models import Channel

from .context import channel_location_ids
from .locations import location_availability

@dataclass(frozen=True)
class PickupOption:
    location: Location
    distance_km: float
    available: dict[int, int]  # product id → units available (after reservations and safety stock)


def pickup_options(*, channel: Channel, product_ids: Sequence[int], lat: float, lon: float, radius_km: float,
                   quantity: int = 1) -> list[PickupOption]:
    """Active pickup stores the channel sees, within ``radius_km`` great-circle km, with capacity
    left today and at least ``quantity`` available of every SKU, nearest first. Three queries:
    stores, their capacity, then their stock."""
    visible = channel_location_ids(channel=channel)
    # a latitude band prefilter (1° of latitude ≈ 111.2 km) keeps the candidate set small
    band = radius_km / 111.19 + 0.01
    stores = Location.objects.filter(
        pk__in=visible, can_pickup=True, is_active=True, latitude__isnull=False, longitude__isnull=False,
        latitude__gte=lat - band, latitude__lte=lat + band,
    ).exclude(kind=LocationKind.SUPPLIER)
    near = []
    for store in stores:
        if store.latitude is None or store.longitude is None:  # excluded by the query; narrows the type
            continue
        distance = haversine_km(lat, lon, store.latitude, store.longitude)
        if distance <= radius_km:
            near.append((distance, store))
    full = locations_at_capacity(location_ids=[s.pk for _, s in near]) if near else frozenset()
    near = [(d, store) for d, store in near if store.pk not in full]  # no capacity left today: not offered
    if not near:
        return []
    stock: dict[int, dict[int, int]] = defaultdict(dict)
    for row in location_availability(product_ids=product_ids, location_ids=[s.pk for _, s in near]):
        stock[row.location_id][row.product_id] = row.available
    options = []
    for distance, store in sorted(near, key=lambda pair: (pair[0], pair[1].code)):
        available = {pid: stock[store.pk].get(pid, 0) for pid in product_ids}
        if all(units >= quantity for units in available.values()):
            options.append(PickupOption(location=store, distance_km=round(distance, 2), available=available))
    return options
