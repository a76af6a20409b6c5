"""A store takes back an online order by order number or pickup code: restock or damaged through
the ledger at that store, the refund recorded, refused beyond what was delivered."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment.services import Verification, hand_over, mark_ready, pick
from fulfillment.services.returns import returned_order_find, store_return
from inventory.services import ledger_check
from omni.errors import Conflict, NotFound
from orders.services import ReturnItem, order_create
from tests.allocation.factories import ChannelFactory, make_visible

from .factories import order_input, place_bopis, receive, stock

pytestmark = pytest.mark.django_db


def collected(world, external_id="B-1"):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    work = place_bopis(world, external_id, ("SHIRT", 2), ("MUG", 1))
    for line in work.lines.all():
        pick(work=work, line=line, qty=line.quantity, actor="alice")
    work = mark_ready(work=work, actor="alice")
    return hand_over(work=work, verification=Verification(collector_name="Ayşe"), actor="bob")


def test_return_by_pickup_code_at_another_store(world):
    work = collected(world)
    order = store_return(location=world.izm, query=work.pickup_code.lower(), actor="carla", external_id="RMA-1",
                         items=[ReturnItem(line_no=1, quantity=1), ReturnItem(line_no=2, quantity=1, resellable=False)])
    assert order.pk == work.order_id
    assert stock(world.shirt, world.izm) == (1, 0, 0) and stock(world.mug, world.izm) == (0, 0, 1)
    record = order.returns.get()
    assert (record.location, record.actor, record.refund_amount) == (world.izm, "carla", Decimal("20.00"))
    assert ledger_check() == []


def test_return_by_order_number_refused_beyond_delivered(world):
    collected(world)
    store_return(location=world.ist, query="b-1", actor="carla", items=[ReturnItem(line_no=1, quantity=2)])
    with pytest.raises(Conflict) as exc:
        store_return(location=world.ist, query="B-1", actor="carla", items=[ReturnItem(line_no=1, quantity=1)])
    assert exc.value.code == "return_exceeds_delivered"
    assert stock(world.shirt, world.ist) == (5, 0, 0)
    assert ledger_check() == []


def test_unknown_and_ambiguous_numbers_are_refused(world):
    collected(world)
    with pytest.raises(NotFound):
        returned_order_find(query="NOPE-1")
    app = ChannelFactory(code="app")
    make_visible(app, world.ist)
    order_create(channel=app, data=order_input("B-1", ("SHIRT", 1)))
    with pytest.raises(Conflict) as exc:
        returned_order_find(query="B-1")
    assert exc.value.code == "ambiguous_order"
