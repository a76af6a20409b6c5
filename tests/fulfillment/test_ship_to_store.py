"""Ship-to-store: the units travel as a real inventory transfer (dispatched → in transit →
received at the pickup store), are reserved there on arrival, and the pickup becomes ready."""

from __future__ import annotations

import pytest

from fulfillment.models import Work, WorkKind, WorkStatus
from fulfillment.selectors import works_visible
from fulfillment.services import Verification, dispatch, hand_over, pack, pick, receive
from fulfillment.signals import work_ready
from inventory.models import Transfer, TransferStatus
from inventory.selectors import units_in_transit
from inventory.services import ledger_check
from omni.errors import IllegalTransition
from orders.models import Allocation, AllocationStatus, DeliveryMode, OrderStatus
from orders.services import order_cancel, order_create

from tests.inventory.factories import StaffFactory

from .factories import order_input, receive as receive_stock, stock

pytestmark = pytest.mark.django_db


def _place(world, ext: str, qty: int = 2) -> Work:
    order = order_create(channel=world.web, data=order_input(
        ext, ("SHIRT", qty), delivery_mode=DeliveryMode.BOPIS, pickup_location=world.izm.code, ship_to_store=True))
    return Work.objects.get(order=order)


def _packed(work: Work) -> Work:
    for line in work.lines.all():
        pick(work=work, line=line, qty=line.quantity, actor="alice")
    return pack(work=work, actor="alice")


def test_transfer_travels_and_the_pickup_becomes_ready(world, django_capture_on_commit_callbacks):
    receive_stock(world.shirt, world.ist, 5)
    work = _place(world, "STS-1")
    assert (work.kind, work.location, work.pickup_location) == (WorkKind.SHIP_TO_STORE, world.ist, world.izm)
    work = _packed(work)
    assert stock(world.shirt, world.ist) == (5, 2, 0)

    work = dispatch(work=work, actor="alice")
    transfer = Transfer.objects.get()
    assert (work.status, work.transfer_id, work.lines.get().transfer_id) == (WorkStatus.IN_TRANSIT, transfer.pk, transfer.pk)
    assert (transfer.from_location, transfer.to_location, transfer.quantity, transfer.status) == (
        world.ist, world.izm, 2, TransferStatus.IN_TRANSIT)
    assert stock(world.shirt, world.ist) == (3, 0, 0)  # left the source, no longer held there
    assert units_in_transit(to_location_ids=[world.izm.pk]) == {(world.shirt.pk, world.izm.pk): 2}
    assert dispatch(work=work, actor="alice").status == WorkStatus.IN_TRANSIT and Transfer.objects.count() == 1  # replay
    assert ledger_check() == []

    # the pickup store sees the work coming and receives it
    ready: list[int] = []
    work_ready.connect(lambda sender, work_id, **kw: ready.append(work_id), weak=False, dispatch_uid="sts-test")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            work = receive(work=work, actor="bob")
    finally:
        work_ready.disconnect(dispatch_uid="sts-test")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED and ready == [work.pk]  # the customer is told
    assert work.status == WorkStatus.READY_FOR_PICKUP and work.ready_at is not None and work.pickup_code
    assert units_in_transit(to_location_ids=[world.izm.pk]) == {}
    assert stock(world.shirt, world.izm)[:2] == (2, 2)  # booked in and held for the customer
    alloc = Allocation.objects.get(pk=work.lines.get().allocation_id)
    assert (alloc.location, alloc.status, alloc.reservation_id is not None) == (world.izm, AllocationStatus.RESERVED, True)
    assert receive(work=work, actor="bob").status == WorkStatus.READY_FOR_PICKUP  # replay changes nothing
    assert ledger_check() == []

    work = hand_over(work=work, verification=Verification(collector_name="Ayşe"), actor="bob")
    assert work.status == WorkStatus.COLLECTED
    assert stock(world.shirt, world.izm)[:2] == (0, 0) and stock(world.shirt, world.ist) == (3, 0, 0)
    work.order.refresh_from_db()
    assert work.order.status == OrderStatus.FULFILLED
    assert ledger_check() == []


def test_only_packed_ship_to_store_work_travels(world):
    receive_stock(world.shirt, world.ist, 5)
    work = _place(world, "STS-2")
    with pytest.raises(IllegalTransition):
        dispatch(work=work, actor="alice")
    with pytest.raises(IllegalTransition):
        receive(work=work, actor="alice")
    assert Transfer.objects.count() == 0 and stock(world.shirt, world.ist) == (5, 2, 0)


def test_pickup_store_staff_see_the_incoming_work(world):
    receive_stock(world.shirt, world.ist, 5)
    work = _place(world, "STS-3")
    izm_clerk = StaffFactory(username="izm-clerk", assigned=world.izm)
    ank_clerk = StaffFactory(username="ank-clerk", assigned=world.ank)
    assert list(works_visible(who=izm_clerk).values_list("pk", flat=True)) == [work.pk]
    assert not works_visible(who=ank_clerk).exists()


def test_cancelled_in_transit_arrives_as_sellable_stock(world):
    receive_stock(world.shirt, world.ist, 5)
    work = dispatch(work=_packed(_place(world, "STS-4")), actor="alice")
    order_cancel(order=work.order, reason="changed mind", actor="customer")
    work.refresh_from_db()
    assert work.status == WorkStatus.IN_TRANSIT  # the goods are still on the truck
    work = receive(work=work, actor="bob")
    assert work.status == WorkStatus.CANCELLED
    assert stock(world.shirt, world.izm)[:2] == (2, 0)  # sellable at the pickup store
    assert ledger_check() == []


def test_a_short_receipt_records_the_loss_readies_what_came_and_asks_the_customer_about_the_rest(
        world, django_capture_on_commit_callbacks):
    from allocation.models import SyncMessage
    from fulfillment.models import ChoiceStatus, CustomerChoice
    from omni.errors import ValidationFailed

    receive_stock(world.shirt, world.ist, 5)
    work = dispatch(work=_packed(_place(world, "STS-9", qty=3)), actor="alice")
    line = work.lines.get()
    with pytest.raises(ValidationFailed):
        receive(work=work, actor="bob", received={line.pk: 4})  # more than was sent: nothing changes
    assert Transfer.objects.get().status == TransferStatus.IN_TRANSIT

    with django_capture_on_commit_callbacks(execute=True):
        work = receive(work=work, actor="bob", received={line.pk: 2}, reason="box torn open")

    transfer = Transfer.objects.get()
    assert (transfer.status, transfer.quantity, transfer.received_quantity) == (TransferStatus.RECEIVED, 3, 2)
    assert units_in_transit(to_location_ids=[world.izm.pk]) == {}  # the missing unit left in-transit: lost
    assert stock(world.shirt, world.ist) == (2, 0, 0) and stock(world.shirt, world.izm) == (2, 2, 0)
    line.refresh_from_db()
    assert (work.status, line.rejected, line.ready_quantity) == (WorkStatus.READY_FOR_PICKUP, 1, 2)  # ready for what came
    allocs = sorted(Allocation.objects.filter(line__order=work.order).values_list("status", "quantity", "location__code"))
    assert allocs == [(AllocationStatus.REJECTED, 1, "ST-IZM"), (AllocationStatus.RESERVED, 2, "ST-IZM")]
    assert "box torn open" in Allocation.objects.get(status=AllocationStatus.REJECTED).reason
    assert work.order.events.filter(kind="allocation_short_receipt", data__missing=1).exists()
    choice = CustomerChoice.objects.get(work=work)
    assert (choice.status, choice.location, choice.lines[0]["quantity"]) == (ChoiceStatus.OPEN, world.izm, 1)
    assert list(SyncMessage.objects.filter(kind="event").order_by("sequence").values_list("event", flat=True)) == [
        "ready_for_pickup", "rejected", "customer_choice_requested"]
    assert receive(work=work, actor="bob").status == WorkStatus.READY_FOR_PICKUP  # replay: nothing more
    assert CustomerChoice.objects.count() == 1
    assert ledger_check() == []
    # what came is handed over; the order waits for the customer's answer about the missing unit
    hand_over(work=work, verification=Verification(collector_name="Ayşe"), actor="bob")
    assert ledger_check() == []


def test_nothing_arriving_rejects_the_pickup_and_asks_the_customer(world, django_capture_on_commit_callbacks):
    from fulfillment.models import CustomerChoice

    receive_stock(world.shirt, world.ist, 5)
    work = dispatch(work=_packed(_place(world, "STS-10", qty=2)), actor="alice")
    with django_capture_on_commit_callbacks(execute=True):
        work = receive(work=work, actor="bob", received={work.lines.get().pk: 0})
    assert work.status == WorkStatus.REJECTED
    assert CustomerChoice.objects.get(work=work).lines[0]["quantity"] == 2
    assert units_in_transit(to_location_ids=[world.izm.pk]) == {} and stock(world.shirt, world.ist) == (3, 0, 0)
    assert ledger_check() == []
