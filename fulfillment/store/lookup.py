"""Stock lookup for the shop floor: one SKU here and at the nearest stores that hold it
(reads through inventory's and allocation's selectors; the availability rule is allocation's)."""

from __future__ import annotations

from dataclasses import dataclass

from allocation.selectors import location_availability
from inventory.models import Location, LocationKind, Product
from inventory.selectors import product_by_code
from omni.geo import haversine_km


@dataclass(frozen=True)
class StockAt:
    location: Location
    distance_km: float | None  # None for this store
    on_hand: int
    reserved: int
    available: int  # what a customer can buy now: on hand less reserved and safety stock

    @property
    def is_here(self) -> bool:
        return self.distance_km is None


@dataclass(frozen=True)
class StockLookup:
    product: Product
    here: StockAt
    nearby: list[StockAt]  # nearest first, only stores that hold the SKU


def stock_lookup(*, code: str, here: Location, nearest: int = 5) -> StockLookup | None:
    """The product named by ``code`` (SKU or barcode) at ``here`` and at the ``nearest`` other active
    stores that hold it on hand, by distance. ``None`` when no product has that code. Two queries
    plus the stores' list."""
    product = product_by_code(code=code)
    if product is None:
        return None
    stores = {loc.pk: loc for loc in Location.objects.filter(kind=LocationKind.STORE, is_active=True)}
    stores[here.pk] = here
    figures = {row.location_id: row for row in location_availability(product_ids=[product.pk], location_ids=list(stores))}

    def at(location: Location, distance: float | None) -> StockAt:
        row = figures.get(location.pk)
        return StockAt(location=location, distance_km=distance, on_hand=row.on_hand if row else 0,
                       reserved=row.reserved if row else 0, available=row.available if row else 0)

    others = []
    if here.latitude is not None and here.longitude is not None:
        for loc in stores.values():
            row = figures.get(loc.pk)
            if loc.pk == here.pk or loc.latitude is None or loc.longitude is None or row is None or row.on_hand <= 0:
                continue
            others.append(at(loc, haversine_km(here.latitude, here.longitude, loc.latitude, loc.longitude)))
    others.sort(key=lambda s: (s.distance_km, s.location.code))
    return StockLookup(product=product, here=at(here, None), nearby=others[:nearest])
