from __future__ import annotations

from decimal import Decimal

import factory

from inventory.services import stock_receive
from orders.models import PostalCentroid, RoutingProfile
from orders.services import LineInput, OrderInput
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, make_visible
from tests.inventory.factories import LocationFactory, ProductFactory

__all__ = ["ChannelFactory", "LocationFactory", "ProductFactory", "issue_token", "make_visible", "receive", "order_input",
           "PostalCentroidFactory", "RoutingProfileFactory"]


class PostalCentroidFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PostalCentroid

    country = "TR"
    postal_code = factory.Sequence(lambda n: f"34{n:03d}")
    latitude = 41.0
    longitude = 29.0


class RoutingProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingProfile

    name = factory.Sequence(lambda n: f"profile-{n}")
    version = 1
    criteria = factory.LazyFunction(lambda: [{"name": "proximity", "weight": 1.0}])
    max_shipments = 2


def receive(product, location, quantity: int) -> None:
    stock_receive(product=product, location=location, quantity=quantity, source="test")


def order_input(external_id: str, *lines: tuple[str, int], lat: float | None = 41.0, lon: float | None = 29.0, **kw) -> OrderInput:
    return OrderInput(
        external_id=external_id, lines=[LineInput(sku=sku, quantity=q, unit_price=Decimal("10.00")) for sku, q in lines],
        latitude=lat, longitude=lon, **kw,
    )
