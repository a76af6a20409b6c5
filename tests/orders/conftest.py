from __future__ import annotations

from dataclasses import dataclass

import pytest

from allocation.models import Channel
from inventory.models import Location, Product

from .factories import ChannelFactory, LocationFactory, ProductFactory, make_visible


@dataclass
class World:
    web: Channel
    market: Channel
    ist: Location  # Istanbul store
    ank: Location  # Ankara warehouse
    izm: Location  # Izmir store
    shirt: Product
    mug: Product
    cap: Product


@pytest.fixture
def world(db) -> World:
    web = ChannelFactory(code="web", margin_rank=1, strategic_priority=2)
    market = ChannelFactory(code="market", kind="marketplace", margin_rank=5, strategic_priority=1)
    ist = LocationFactory(code="ST-IST", latitude=41.01, longitude=28.97, can_pickup=True)
    ank = LocationFactory(code="WH-ANK", kind="warehouse", latitude=39.93, longitude=32.86, can_pickup=False)
    izm = LocationFactory(code="ST-IZM", latitude=38.42, longitude=27.14, can_pickup=True)
    for ch in (web, market):
        make_visible(ch, ist, ank, izm)
    return World(web, market, ist, ank, izm, ProductFactory(sku="SHIRT"), ProductFactory(sku="MUG"), ProductFactory(sku="CAP"))
