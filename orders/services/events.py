"""The order timeline: every change leaves an event with its actor."""

from __future__ import annotations

from typing import Any

from orders.models import Order, OrderEvent


def order_event_record(*, order: Order, kind: str, actor: str = "system", data: dict[str, Any] | None = None) -> OrderEvent:
    return OrderEvent.objects.create(order=order, kind=kind, actor=(actor or "system")[:150], data=data or {})
