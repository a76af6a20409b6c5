"""A store takes back an online order: found by its order number or its pickup code, each line's
units back on the shelf (resellable) or into the damaged bucket, through the ledger at this store,
with the refund owed recorded for the partner (``orders.order_return``: refused beyond what was
delivered, idempotent by ``external_id``)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Max

from fulfillment.models import Work
from inventory.models import Location
from omni.errors import Conflict, NotFound, ValidationFailed
from orders.models import Order, OrderReturn
from orders.services import ReturnItem, order_lock, order_return

from .codes import pickup_code_normalize
from .events import Actor, actor_label
from .partner_events import order_partner_event


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
    with transaction.atomic():
        order_lock(order=order)  # first, as every change to the order: the count below is then exact
        before = OrderReturn.objects.filter(order=order).aggregate(last=Max("pk"))["last"] or 0
        order = order_return(order=order, items=items, location=location, actor=actor_label(actor), external_id=external_id,
                             reason=reason)
        record = OrderReturn.objects.filter(order=order, pk__gt=before).prefetch_related("lines__line__product").first()
        if record is not None:  # not a replay of a return already recorded (and already told)
            work = _delivering_work(order=order, line_ids=[rl.line_id for rl in record.lines.all()])
            order_partner_event(
                order=order, kind="returned", location=location, work=work, at=record.created_at,
                lines=[{"line": rl.line.line_no, "sku": rl.line.product.sku, "quantity": rl.quantity,
                        "resellable": rl.resellable, "refund_amount": str(rl.refund_amount)} for rl in record.lines.all()],
                external_id=record.external_id, reason=record.reason, refund_amount=str(record.refund_amount),
            )
    return order


def _delivering_work(*, order: Order, line_ids: list[int]) -> Work | None:
    """The (latest) work that shipped or handed over these lines, if fulfillment delivered them."""
    return (Work.objects.filter(order=order, lines__order_line_id__in=line_ids, lines__handed_over__gt=0)
            .select_related("order__channel").order_by("-pk").first())
