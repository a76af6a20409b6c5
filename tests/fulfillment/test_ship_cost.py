"""Shipping and handing over settle every allocation of the work under the order lock the move
already holds: a bounded number of queries per line, and the order's timeline reads as it did
when each allocation was fulfilled on its own."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.services import Verification, hand_over, mark_ready, pack, pick, ship, start_picking
from inventory.services import ledger_check
from orders.models import AllocationStatus, OrderStatus

from .factories import place, place_bopis, receive, stock

pytestmark = pytest.mark.django_db

# Per shipped line: the reservation's consumption through the ledger (8 with its savepoint), the
# allocation, the line's settlement (2), its event and the order's status (2, 4 when it changes);
# the order, work and lines locked once (``orders.services.allocations_settle``). Before: 85 for
# these three lines (a look-up, an order lock, a read and a savepoint per allocation, a save per line);
# a hand-over of two lines, one of them split, 82 → 66.
MAX_SHIP_QUERIES_3_LINES = 68
MAX_HAND_OVER_QUERIES_2_LINES_ONE_SPLIT = 66


def _picked(work):
    work = start_picking(work=work, actor="alice")
    for line in work.lines.order_by("pk"):
        work = pick(work=work, line=line, qty=line.quantity, actor="alice")
    return work


def test_shipping_three_lines_is_bounded_and_keeps_the_timeline(world):
    for sku in (world.shirt, world.mug, world.cap):
        receive(sku, world.ist, 5)
    work = pack(work=_picked(place(world, "SC-1", ("SHIRT", 2), ("MUG", 1), ("CAP", 3))), box_type="M", actor="alice")
    with CaptureQueriesContext(connection) as ctx:
        work = ship(work=work, tracking_number="T-1", carrier="UPS", actor="alice")
    assert len(ctx.captured_queries) <= MAX_SHIP_QUERIES_3_LINES
    order = work.order
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    assert [(e.kind, e.data.get("to")) for e in order.events.order_by("id")][-5:] == [
        ("allocation_fulfilled", None), ("status_changed", OrderStatus.PARTIALLY_FULFILLED),
        ("allocation_fulfilled", None), ("allocation_fulfilled", None), ("status_changed", OrderStatus.FULFILLED)]
    assert [stock(p, world.ist) for p in (world.shirt, world.mug, world.cap)] == [(3, 0, 0), (4, 0, 0), (2, 0, 0)]
    assert sorted(work.lines.values_list("handed_over", flat=True)) == [1, 2, 3]
    assert ledger_check() == []


def test_a_partial_hand_over_fulfils_and_declines_in_one_pass(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    work = mark_ready(work=_picked(place_bopis(world, "SC-2", ("SHIRT", 3), ("MUG", 1))), actor="alice")
    shirt = work.lines.get(product=world.shirt)
    mug = work.lines.get(product=world.mug)
    with CaptureQueriesContext(connection) as ctx:
        work = hand_over(work=work, quantities={shirt.pk: 2, mug.pk: 1}, verification=Verification(collector_name="Ali"),
                         actor="alice")
    assert len(ctx.captured_queries) <= MAX_HAND_OVER_QUERIES_2_LINES_ONE_SPLIT
    order = work.order
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    allocs = sorted(order.lines.get(product=world.shirt).allocations.values_list("status", "quantity"))
    assert allocs == [(AllocationStatus.CANCELLED, 1), (AllocationStatus.FULFILLED, 2)]
    assert stock(world.shirt, world.ist) == (3, 0, 0) and stock(world.mug, world.ist) == (4, 0, 0)
    shirt.refresh_from_db()
    assert (shirt.handed_over, shirt.cancelled) == (2, 1)
    assert ledger_check() == []
