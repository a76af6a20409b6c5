"""The one checked transition function for every status in the orders app."""

from __future__ import annotations

from django.db import models

from omni.errors import IllegalTransition
from orders.models import AllocationStatus, HoldStatus, LineStatus, OrderStatus

_ALLOWED: dict[type[models.TextChoices], dict[str, set[str]]] = {
    OrderStatus: {
        OrderStatus.ALLOCATED: {OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED, OrderStatus.CANCELLED},
        OrderStatus.BACKORDERED: {OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED, OrderStatus.CANCELLED},
        OrderStatus.PARTIALLY_FULFILLED: {OrderStatus.FULFILLED, OrderStatus.BACKORDERED},
        OrderStatus.FULFILLED: set(),
        OrderStatus.CANCELLED: set(),
    },
    LineStatus: {
        LineStatus.ALLOCATED: {LineStatus.FULFILLED, LineStatus.CANCELLED, LineStatus.BACKORDERED},
        LineStatus.BACKORDERED: {LineStatus.ALLOCATED, LineStatus.CANCELLED},
        LineStatus.FULFILLED: set(),
        LineStatus.CANCELLED: set(),
    },
    AllocationStatus: {
        AllocationStatus.RESERVED: {AllocationStatus.FULFILLED, AllocationStatus.CANCELLED, AllocationStatus.REJECTED},
        AllocationStatus.FULFILLED: set(),
        AllocationStatus.CANCELLED: set(),
        AllocationStatus.REJECTED: set(),
    },
    HoldStatus: {
        HoldStatus.ACTIVE: {HoldStatus.CONSUMED, HoldStatus.EXPIRED, HoldStatus.RELEASED},
        HoldStatus.CONSUMED: set(),
        HoldStatus.EXPIRED: set(),
        HoldStatus.RELEASED: set(),
    },
}


def status_check(*, choices: type[models.TextChoices], current: str, to: str, what: str) -> None:
    """Refuse an illegal move with a message naming the object and both statuses."""
    if current == to:
        return
    if to not in _ALLOWED[choices].get(current, set()):
        raise IllegalTransition(
            f"{what} is {choices(current).label.lower()}; it cannot become {choices(to).label.lower()}.",
            code="illegal_transition", details={"status": [f"{current} → {to} is not allowed."]},
        )


def status_transition(*, obj: models.Model, choices: type[models.TextChoices], to: str, what: str,
                      extra_fields: tuple[str, ...] = ()) -> bool:
    """Move ``obj.status`` to ``to`` (saved); False when it already was there."""
    current = obj.status
    status_check(choices=choices, current=current, to=to, what=what)
    if current == to:
        return False
    obj.status = to
    obj.save(update_fields=["status", *extra_fields])
    return True
