"""A store takes back an online order: found by its order number or its pickup code, each line's
units back on the shelf (resellable) or into the damaged bucket, through the ledger at this store,
with the refund owed recorded for the partner (``orders.order_return``: refused beyond what was
delivered, idempotent by ``external_id``)."""

from __future__ import annotations

from collections.abc import Sequence

from fulfillment.models import Work
from inventory.models import Location
from omni.errors import Conflict, NotFound, ValidationFailed
from orders.models import Order
from orders.services import ReturnItem, order_return

from .codes import pickup_code_normalize
from .events import Actor, actor_label


def returned_order_find(*, query: str) -> Order:
    """The order a customer brings back, by order number (any channel) or pickup code."""
    text = (query or "").strip()
    if not text:
        raise ValidationFailed("Give the order number or the pickup code.", code="invalid", details={"query": ["Required."]})
    orders = list(Order.objects.filter(external_id__iexact=text).select_related("channel").order_by("pk")[:5])
    if len(orders) > 1:
        raise Conflict(f"Order number {text} exists in several channels ({', '.join(o.channel.code for o in orders)}); "
                       "use the pickup code.", code="ambiguous_order", details={"query": [o.channel.code for o in orders]})
    if orders:
        return orders[0]
    code = pickup_code_normalize(text)
    work = Work.objects.filter(pickup_code=code).select_related("order").order_by("-pk").first() if code else None
    if work is None:
        raise NotFound(f"No order has the number or pickup code {text!r}.", code="unknown_order", details={"query": [text]})
    return work.order


def store_return(
    *, location: Location, query: str, items: Sequence[ReturnItem], actor: Actor, external_id: str = "", reason: str = "",
) -> Order:
    """Take back ``items`` of the order found by ``query`` at ``location`` (see the module docstring)."""
    order = returned_order_find(query=query)
    return order_return(order=order, items=items, location=location, actor=actor_label(actor), external_id=external_id,
                        reason=reason)
