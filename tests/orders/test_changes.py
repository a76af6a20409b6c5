"""Cancel, fulfil, reject → re-route, returns, holds: every change goes through the ledger."""

from __future__ import annotations

from datetime import timedelta

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Reservation, StockLevel, StockMovement
from inventory.services import ledger_check
from omni.errors import Conflict, IllegalTransition, InsufficientStock, NotFound
from orders.models import Allocation, AllocationStatus, Hold, HoldStatus, LineStatus, OrderLine, OrderStatus
from orders.services import (
    HoldLineInput,
    ReturnItem,
    allocation_fulfil,
    allocation_reject,
    hold_create,
    hold_release,
    holds_expire,
    order_cancel,
    order_create,
    order_line_cancel,
    order_return,
)

from .factories import order_input, receive

pytestmark = pytest.mark.django_db


def stock(product, location):
    lv = StockLevel.objects.get(product=product, location=location)
    return lv.on_hand, lv.reserved, lv.damaged


def test_cancel_order_releases_every_reservation(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("C-1", ("SHIRT", 2), ("MUG", 3)))
    order = order_cancel(order=order, actor="alice", reason="customer changed mind")
    assert order.status == OrderStatus.CANCELLED
    assert stock(world.shirt, world.ist) == (5, 0, 0)
    assert stock(world.mug, world.ist) == (5, 0, 0)
    assert set(Allocation.objects.filter(line__order=order).values_list("status", flat=True)) == {AllocationStatus.CANCELLED}
    assert Reservation.objects.filter(status="open").count() == 0
    assert order.events.filter(kind="cancelled", actor="alice").exists()
    # cancelling again confirms it (the admin and the API alike): nothing changes, no second event
    events = order.events.count()
    again = order_cancel(order=order, actor="bob", reason="clicked twice")
    assert again.status == OrderStatus.CANCELLED and again.events.count() == events
    assert not again.events.filter(actor="bob").exists()
    assert ledger_check() == []


def test_cancel_one_line_keeps_the_rest(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("C-2", ("SHIRT", 2), ("MUG", 3)))
    order = order_line_cancel(order=order, line_no=2, reason="out of budget")
    assert order.status == OrderStatus.ALLOCATED
    assert stock(world.mug, world.ist) == (5, 0, 0)
    assert stock(world.shirt, world.ist) == (5, 2, 0)
    assert order.lines.get(line_no=2).status == LineStatus.CANCELLED


def test_fulfil_consumes_the_reservation_and_completes_the_order(world):
    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("F-1", ("SHIRT", 2)))
    alloc = Allocation.objects.get(line__order=order)
    allocation_fulfil(allocation=alloc, actor="store:ist")
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    assert stock(world.shirt, world.ist) == (3, 0, 0)
    assert StockMovement.objects.filter(reason="fulfilment").values_list("quantity", "reference").get() == (-2, "order:F-1")
    with pytest.raises(IllegalTransition):
        allocation_fulfil(allocation=alloc)
    with pytest.raises(IllegalTransition):
        order_cancel(order=order)
    assert ledger_check() == []


def test_rejected_allocation_is_rerouted_elsewhere_never_back(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.ank, 5)
    order = order_create(channel=world.web, data=order_input("RR-1", ("SHIRT", 2)))
    first = Allocation.objects.get(line__order=order)
    assert first.location == world.ist
    result = allocation_reject(allocation=first, reason="short pick: shelf empty", actor="store:ist")
    assert not result.backordered
    assert [(a.location.code, a.quantity) for a in result.allocations] == [("WH-ANK", 2)]
    first.refresh_from_db()
    assert (first.status, first.reason) == (AllocationStatus.REJECTED, "short pick: shelf empty")
    assert stock(world.shirt, world.ist) == (5, 0, 0)
    assert stock(world.shirt, world.ank) == (5, 2, 0)
    # The second location rejects too: nowhere left (IST rejected before) → backordered with the reason.
    second = result.allocations[0]
    result2 = allocation_reject(allocation=second, reason="damaged")
    assert result2.backordered
    order.refresh_from_db()
    assert order.status == OrderStatus.BACKORDERED
    assert "Not enough stock" in order.lines.get().status_reason
    assert Reservation.objects.filter(status="open").count() == 0
    assert ledger_check() == []


def test_returns_at_any_location_resellable_and_damaged(world):
    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("RT-1", ("SHIRT", 3)))
    allocation_fulfil(allocation=Allocation.objects.get(line__order=order))
    # Bought online from Istanbul, returned in the Izmir store: 1 resellable, 1 damaged.
    order_return(order=order, location=world.izm, external_id="RMA-1",
                 items=[ReturnItem(line_no=1, quantity=1), ReturnItem(line_no=1, quantity=1, resellable=False)])
    assert stock(world.shirt, world.izm) == (1, 0, 1)
    assert order.lines.get().quantity_returned == 2
    # Reported twice: applied once.
    order_return(order=order, location=world.izm, external_id="RMA-1",
                 items=[ReturnItem(line_no=1, quantity=1), ReturnItem(line_no=1, quantity=1, resellable=False)])
    assert stock(world.shirt, world.izm) == (1, 0, 1)
    with pytest.raises(Conflict) as err:
        order_return(order=order, location=world.izm, items=[ReturnItem(line_no=1, quantity=2)])
    assert err.value.code == "return_exceeds_delivered"
    assert err.value.details["returnable"] == 1
    assert ledger_check() == []


def test_a_return_records_the_refund_per_line_and_refuses_a_changed_replay(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("RT-3", ("SHIRT", 2), ("MUG", 1)))
    for alloc in Allocation.objects.filter(line__order=order):
        allocation_fulfil(allocation=alloc)
    order_return(order=order, location=world.izm, external_id="RMA-3", reason="too small", actor="staff.izm",
                 items=[ReturnItem(line_no=1, quantity=2), ReturnItem(line_no=2, quantity=1, resellable=False,
                                                                      refund_amount=Decimal("4.00"))])
    record = order.returns.get()
    assert (record.location, record.refund_amount, record.reason, record.actor) == (world.izm, Decimal("24.00"), "too small", "staff.izm")
    assert list(record.lines.values_list("line__line_no", "quantity", "resellable", "refund_amount")) == [
        (1, 2, True, Decimal("20.00")), (2, 1, False, Decimal("4.00"))]
    event = order.events.get(kind="returned")
    assert (event.actor, event.data["refund_amount"], event.data["return"]) == ("staff.izm", "24.00", record.pk)
    assert stock(world.shirt, world.izm) == (2, 0, 0) and stock(world.mug, world.izm) == (0, 0, 1)
    # the same RMA again: nothing changes; the same RMA with other items: refused, nothing changes
    order_return(order=order, location=world.izm, external_id="RMA-3",
                 items=[ReturnItem(line_no=1, quantity=2), ReturnItem(line_no=2, quantity=1, resellable=False,
                                                                      refund_amount=Decimal("4.00"))])
    with pytest.raises(Conflict) as err:
        order_return(order=order, location=world.izm, external_id="RMA-3", items=[ReturnItem(line_no=1, quantity=1)])
    assert err.value.code == "duplicate_external_id"
    assert order.returns.count() == 1 and stock(world.shirt, world.izm) == (2, 0, 0)
    assert order.lines.get(line_no=1).quantity_returned == 2
    assert ledger_check() == []


def test_return_of_undelivered_units_is_refused(world):
    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("RT-2", ("SHIRT", 1)))
    with pytest.raises(Conflict):
        order_return(order=order, location=world.ist, items=[ReturnItem(line_no=1, quantity=1)])
    assert stock(world.shirt, world.ist) == (5, 1, 0)


def test_hold_first_reserve_wins_then_order_consumes_it(world):
    receive(world.shirt, world.ist, 2)
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=2)], ttl_seconds=600)
    assert stock(world.shirt, world.ist) == (2, 2, 0)
    with pytest.raises(InsufficientStock):
        hold_create(channel=world.market, lines=[HoldLineInput(sku="SHIRT", quantity=1)])
    with pytest.raises(InsufficientStock):
        order_create(channel=world.market, data=order_input("MK-1", ("SHIRT", 1)))
    order = order_create(channel=world.web, data=order_input("H-1", ("SHIRT", 2), hold_id=str(hold.pk)))
    hold.refresh_from_db()
    assert hold.status == HoldStatus.CONSUMED
    assert stock(world.shirt, world.ist) == (2, 2, 0)
    assert list(Allocation.objects.filter(line__order=order).values_list("location__code", "quantity")) == [("ST-IST", 2)]
    assert Reservation.objects.filter(status="open").get().reference.startswith("order-allocation:")
    assert order.events.filter(kind="hold_consumed").exists()
    with pytest.raises(Conflict) as err:
        order_create(channel=world.web, data=order_input("H-2", ("SHIRT", 1), hold_id=str(hold.pk)))
    assert err.value.code == "hold_not_active"
    assert ledger_check() == []


def test_order_with_hold_routes_the_lines_the_hold_does_not_cover(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=1)])
    order = order_create(channel=world.web, data=order_input("H-3", ("SHIRT", 3), ("MUG", 1), hold_id=str(hold.pk)))
    assert sorted(Allocation.objects.filter(line__order=order).values_list("line__line_no", "quantity")) == [(1, 1), (1, 2), (2, 1)]
    assert stock(world.shirt, world.ist) == (5, 3, 0)
    assert ledger_check() == []


def test_another_channels_hold_cannot_be_used(world):
    receive(world.shirt, world.ist, 5)
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=1)])
    with pytest.raises(NotFound) as err:
        order_create(channel=world.market, data=order_input("H-4", ("SHIRT", 1), hold_id=str(hold.pk)))
    assert err.value.code == "unknown_hold"
    assert stock(world.shirt, world.ist) == (5, 1, 0)


def test_expired_holds_release_their_stock(world):
    receive(world.shirt, world.ist, 3)
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=3)], ttl_seconds=60)
    assert holds_expire(now=timezone.now()) == 0  # not yet
    assert holds_expire(now=timezone.now() + timedelta(seconds=61)) == 1
    hold.refresh_from_db()
    assert hold.status == HoldStatus.EXPIRED
    assert stock(world.shirt, world.ist) == (3, 0, 0)
    assert Reservation.objects.get().status == "expired"
    assert holds_expire(now=timezone.now() + timedelta(seconds=120)) == 0  # twice is harmless
    with pytest.raises(Conflict):
        order_create(channel=world.web, data=order_input("H-5", ("SHIRT", 1), hold_id=str(hold.pk)))
    assert ledger_check() == []


def test_released_hold_gives_stock_back(world):
    receive(world.shirt, world.ist, 3)
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=2)])
    hold_release(hold=hold)
    assert Hold.objects.get().status == HoldStatus.RELEASED
    assert stock(world.shirt, world.ist) == (3, 0, 0)


def test_beat_task_expires_holds(world):
    from orders.schedules import BEAT_SCHEDULE
    from orders.tasks import holds_expire_task

    assert BEAT_SCHEDULE["orders-holds-expire"]["task"] == "orders.tasks.holds_expire"
    receive(world.shirt, world.ist, 1)
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=1)], ttl_seconds=30)
    Hold.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    Reservation.objects.filter(pk=hold.lines.get().reservation_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert holds_expire_task.delay().get() == 1
    assert stock(world.shirt, world.ist) == (1, 0, 0)


def test_backorder_task_allocates_when_stock_arrives(world):
    from orders.tasks import backorders_allocate_task

    world.web.scarcity_threshold = 3
    world.web.shortage_policy = "backorder"
    world.web.save()
    receive(world.cap, world.ist, 1)
    order = order_create(channel=world.web, data=order_input("BO-1", ("CAP", 2)))
    assert order.status == OrderStatus.BACKORDERED
    assert backorders_allocate_task.delay().get() == 0  # still only 1 unit
    receive(world.cap, world.ank, 1)
    assert backorders_allocate_task.delay().get() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert stock(world.cap, world.ist) == (1, 1, 0) and stock(world.cap, world.ank) == (1, 1, 0)
    assert ledger_check() == []


def test_backorder_job_does_no_per_line_work_while_nothing_is_in_stock(world, django_assert_max_num_queries):
    from orders.services import backorders_allocate

    world.web.scarcity_threshold = 3
    world.web.shortage_policy = "backorder"
    world.web.save()
    receive(world.cap, world.ist, 1)
    receive(world.mug, world.ist, 1)
    for i in range(6):
        order_create(channel=world.web, data=order_input(f"BO-N{i}", ("CAP", 2), ("MUG", 2)))
    from inventory.services import stock_sell

    stock_sell(product=world.cap, location=world.ist, quantity=1)
    stock_sell(product=world.mug, location=world.ist, quantity=1)  # the pool is empty now

    with django_assert_max_num_queries(4):  # the backordered lines and the pool figures, whatever their number
        assert backorders_allocate() == []
    assert OrderLine.objects.filter(status="backordered").count() == 12
