"""The legal status moves of the orders app, as ``omni.transitions`` tables. Every status change
goes through ``transition_apply`` / ``transition_check`` with one of these.

The tables are idempotent: moving an object to the status it already has changes nothing."""

from __future__ import annotations

from omni.transitions import TransitionTable
from orders.models import AllocationStatus, HoldStatus, LineStatus, OrderStatus

ORDER_TRANSITIONS = TransitionTable(OrderStatus, {
    OrderStatus.ALLOCATED: {OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED, OrderStatus.CANCELLED},
    OrderStatus.BACKORDERED: {OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_FULFILLED, OrderStatus.FULFILLED, OrderStatus.CANCELLED},
    OrderStatus.PARTIALLY_FULFILLED: {OrderStatus.FULFILLED, OrderStatus.BACKORDERED},
    OrderStatus.FULFILLED: set(),
    OrderStatus.CANCELLED: set(),
}, idempotent=True)

LINE_TRANSITIONS = TransitionTable(LineStatus, {
    LineStatus.ALLOCATED: {LineStatus.FULFILLED, LineStatus.CANCELLED, LineStatus.BACKORDERED},
    LineStatus.BACKORDERED: {LineStatus.ALLOCATED, LineStatus.CANCELLED},
    LineStatus.FULFILLED: set(),
    LineStatus.CANCELLED: set(),
}, idempotent=True)

ALLOCATION_TRANSITIONS = TransitionTable(AllocationStatus, {
    AllocationStatus.RESERVED: {AllocationStatus.FULFILLED, AllocationStatus.CANCELLED, AllocationStatus.REJECTED},
    AllocationStatus.FULFILLED: set(),
    AllocationStatus.CANCELLED: set(),
    AllocationStatus.REJECTED: set(),
}, idempotent=True)

HOLD_TRANSITIONS = TransitionTable(HoldStatus, {
    HoldStatus.ACTIVE: {HoldStatus.CONSUMED, HoldStatus.EXPIRED, HoldStatus.RELEASED},
    HoldStatus.CONSUMED: set(),
    HoldStatus.EXPIRED: set(),
    HoldStatus.RELEASED: set(),
}, idempotent=True)
