from __future__ import annotations

from fulfillment.models import Work
from inventory.models import StockLevel
from orders.models import DeliveryMode
from orders.services import order_create
from tests.orders.factories import order_input, receive

__all__ = ["order_input", "receive", "place", "place_bopis", "stock"]


def place(world, external_id: str, *lines: tuple[str, int], **kw) -> Work:
    """Place a shipping order; return its (single) work."""
    order = order_create(channel=world.web, data=order_input(external_id, *lines, **kw))
    return Work.objects.get(order=order)


def place_bopis(world, external_id: str, *lines: tuple[str, int], store=None, **kw) -> Work:
    store = store or world.ist
    order = order_create(channel=world.web, data=order_input(
        external_id, *lines, delivery_mode=DeliveryMode.BOPIS, pickup_location=store.code, **kw))
    return Work.objects.get(order=order)


def stock(product, location) -> tuple[int, int, int]:
    lv = StockLevel.objects.get(product=product, location=location)
    return lv.on_hand, lv.reserved, lv.damaged
