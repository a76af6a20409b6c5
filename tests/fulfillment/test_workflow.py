"""Work from allocations, and moving it: pick, pack, ship, ready, hand over (whole and in part).
Stock leaves on_hand and reserved only at ship / hand-over; the ledger balances after each step."""

from __future__ import annotations

import pytest

from fulfillment.models import PickupVerification, Work, WorkKind, WorkStatus
from fulfillment.selectors import queue, work_for
from fulfillment.services import (
    Verification,
    hand_over,
    mark_ready,
    materialize,
    pack,
    pick,
    pick_by_barcode,
    ship,
    start_picking,
)
from fulfillment.services.codes import PICKUP_ALPHABET
from fulfillment.signals import work_ready
from inventory.models import StockMovement
from inventory.services import ledger_check
from omni.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from orders.models import AllocationStatus, LineStatus, OrderStatus
from orders.services import order_cancel, order_line_cancel
from tests.inventory.factories import StaffFactory

from .factories import place, place_bopis, receive, stock

pytestmark = pytest.mark.django_db

ID = Verification(collector_name="Ayşe Yılmaz", id_kind="national_id", id_last_digits="4821")


def pick_all(work: Work, actor="alice") -> Work:
    for line in work.lines.all():
        pick(work=work, line=line, qty=line.quantity, actor=actor)
    work.refresh_from_db()
    return work


def test_each_order_location_becomes_one_work_with_its_lines(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    work = place(world, "W-1", ("SHIRT", 2), ("MUG", 1))
    assert (work.kind, work.status, work.location, work.pickup_code) == (WorkKind.SHIP_FROM_STORE, WorkStatus.NEW, world.ist, "")
    assert sorted((ln.product.sku, ln.quantity, ln.picked) for ln in work.lines.all()) == [("MUG", 1, 0), ("SHIRT", 2, 0)]
    assert work.deadline > work.created_at
    assert list(work.events.values_list("kind", flat=True)) == ["created", "line_added", "line_added"]
    assert materialize(order=work.order) == []  # idempotent
    assert Work.objects.count() == 1 and work.lines.count() == 2


def test_warehouse_and_pickup_kinds(world):
    receive(world.cap, world.ank, 5)
    assert place(world, "W-2", ("CAP", 1), lat=39.9, lon=32.8).kind == WorkKind.WAREHOUSE_SHIP
    receive(world.shirt, world.izm, 5)
    work = place_bopis(world, "B-1", ("SHIRT", 1), store=world.izm)
    assert (work.kind, work.location, work.pickup_location) == (WorkKind.BOPIS, world.izm, world.izm)
    assert len(work.pickup_code) == 6 and set(work.pickup_code) <= set(PICKUP_ALPHABET)


def test_ship_from_store_moves_stock_only_when_shipped(world):
    receive(world.shirt, world.ist, 5)
    work = place(world, "S-1", ("SHIRT", 2))
    assert stock(world.shirt, world.ist) == (5, 2, 0)
    work = start_picking(work=work, actor="alice")
    line = work.lines.get()
    work = pick(work=work, line=line, qty=1, actor="alice")
    assert work.status == WorkStatus.PICKING
    work = pick(work=work, line=line, qty=1, actor="alice")
    assert work.status == WorkStatus.PICKED and work.picked_at is not None
    work = pack(work=work, box_type="M", actor="alice")
    assert (work.status, work.box_type) == (WorkStatus.PACKED, "M")
    assert stock(world.shirt, world.ist) == (5, 2, 0)  # nothing left the building yet
    assert ledger_check() == []
    work = ship(work=work, tracking_number="TRK123", carrier="UPS", actor="alice")
    assert (work.status, work.tracking_number, work.carrier, work.on_time) == (WorkStatus.SHIPPED, "TRK123", "UPS", True)
    assert stock(world.shirt, world.ist) == (3, 0, 0)
    assert StockMovement.objects.filter(reason="fulfilment").values_list("quantity", flat=True).get() == -2
    work.order.refresh_from_db()
    assert work.order.status == OrderStatus.FULFILLED
    assert work.lines.get().handed_over == 2
    assert list(work.events.filter(kind="transition").values_list("from_status", "to_status")) == [
        ("new", "picking"), ("picking", "picked"), ("picked", "packed"), ("packed", "shipped")]
    assert set(work.events.values_list("actor_label", flat=True)) == {"system", "alice"}
    assert ledger_check() == []


def test_pick_starts_a_new_work_and_refuses_over_pick(world):
    receive(world.shirt, world.ist, 5)
    work = place(world, "S-2", ("SHIRT", 2))
    line = work.lines.get()
    with pytest.raises(Conflict) as exc:
        pick(work=work, line=line, qty=3, actor="alice")
    assert exc.value.code == "over_pick"
    work.refresh_from_db()
    assert work.status == WorkStatus.NEW and work.lines.get().picked == 0
    work = pick(work=work, line=line, qty=2, actor="alice")
    assert work.status == WorkStatus.PICKED
    with pytest.raises(IllegalTransition):
        pick(work=work, line=line, qty=1, actor="alice")
    with pytest.raises(ValidationFailed):
        pick(work=work, line=line, qty=0, actor="alice")


def test_pick_by_barcode_refuses_the_wrong_item(world):
    world.shirt.barcode = "8690000000011"
    world.shirt.save()
    world.mug.barcode = "8690000000028"
    world.mug.save()
    receive(world.shirt, world.ist, 5)
    work = place(world, "S-3", ("SHIRT", 1))
    with pytest.raises(Conflict) as exc:
        pick_by_barcode(work=work, ean="8690000000028", actor="alice")
    assert exc.value.code == "wrong_item" and "MUG" in exc.value.message
    with pytest.raises(NotFound) as exc:
        pick_by_barcode(work=work, ean="000", actor="alice")
    assert exc.value.code == "unknown_barcode"
    assert work.lines.get().picked == 0
    work = pick_by_barcode(work=work, ean=" 8690000000011 ", actor="alice")
    assert work.status == WorkStatus.PICKED
    assert work.events.filter(kind="picked", data__ean="8690000000011").exists()


def test_ship_needs_a_tracking_number_and_a_packed_shipping_work(world):
    receive(world.shirt, world.ist, 5)
    work = place(world, "S-4", ("SHIRT", 1))
    with pytest.raises(IllegalTransition):
        ship(work=work, tracking_number="T", actor="alice")
    work = pick_all(work)
    with pytest.raises(ValidationFailed) as exc:
        ship(work=pack(work=work, actor="alice"), tracking_number="  ", actor="alice")
    assert exc.value.code == "tracking_required"
    with pytest.raises(IllegalTransition):
        mark_ready(work=work, actor="alice")  # a shipment is never "ready for pickup"
    assert stock(world.shirt, world.ist) == (5, 1, 0)
    assert Work.objects.get(pk=work.pk).status == WorkStatus.PACKED
    assert ledger_check() == []


def test_bopis_ready_then_collected_with_the_id_check(world, django_capture_on_commit_callbacks):
    receive(world.shirt, world.ist, 5)
    work = pick_all(place_bopis(world, "B-2", ("SHIRT", 2)))
    seen = []
    work_ready.connect(lambda sender, work_id, **kw: seen.append(work_id), weak=False, dispatch_uid="test-ready")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            work = mark_ready(work=work, actor="alice")
    finally:
        work_ready.disconnect(dispatch_uid="test-ready")
    assert seen == [work.pk]
    assert (work.status, work.on_time) == (WorkStatus.READY_FOR_PICKUP, True) and work.ready_at is not None
    assert stock(world.shirt, world.ist) == (5, 2, 0)
    with pytest.raises(ValidationFailed) as exc:
        hand_over(work=work, verification=Verification(collector_name=" "), actor="bob")
    assert exc.value.code == "verification_required"
    staff = StaffFactory(username="bob", assigned=world.ist)
    work = hand_over(work=work, verification=ID, actor=staff)
    assert work.status == WorkStatus.COLLECTED and work.closed_at is not None
    assert stock(world.shirt, world.ist) == (3, 0, 0)
    v = PickupVerification.objects.get(work=work)
    assert (v.collector_name, v.id_last_digits, v.handed_over_by, v.handed_over_label) == ("Ayşe Yılmaz", "4821", staff, "bob")
    assert work.order.lines.get().status == LineStatus.FULFILLED
    with pytest.raises(IllegalTransition):
        hand_over(work=work, verification=ID, actor=staff)
    assert ledger_check() == []


def test_partial_hand_over_gives_the_declined_units_back(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    work = mark_ready(work=pick_all(place_bopis(world, "B-3", ("SHIRT", 3), ("MUG", 1))), actor="alice")
    shirt = work.lines.get(product=world.shirt)
    mug = work.lines.get(product=world.mug)
    with pytest.raises(ValidationFailed):
        hand_over(work=work, quantities={shirt.pk: 4}, verification=ID, actor="bob")
    with pytest.raises(ValidationFailed):
        hand_over(work=work, quantities={shirt.pk: 0, mug.pk: 0}, verification=ID, actor="bob")
    work = hand_over(work=work, quantities={shirt.pk: 2, mug.pk: 1}, verification=ID, actor="bob")
    assert work.status == WorkStatus.COLLECTED
    shirt.refresh_from_db()
    assert (shirt.handed_over, shirt.cancelled) == (2, 1)
    assert stock(world.shirt, world.ist) == (3, 0, 0)  # 2 left with the customer, the declined one is sellable again
    assert stock(world.mug, world.ist) == (4, 0, 0)
    order = work.order
    order.refresh_from_db()
    line = order.lines.get(product=world.shirt)
    assert line.status == LineStatus.FULFILLED and "1 of 3 not taken" in line.status_reason
    assert sorted(line.allocations.values_list("status", "quantity")) == [
        (AllocationStatus.CANCELLED, 1), (AllocationStatus.FULFILLED, 2)]
    assert order.status == OrderStatus.FULFILLED
    assert work.events.get(kind="handed_over").data["declined"] == [{"line": shirt.pk, "sku": "SHIRT", "quantity": 1}]
    assert ledger_check() == []


def test_cancelled_order_leaves_the_queue(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    work = place(world, "C-1", ("SHIRT", 1), ("MUG", 1))
    start_picking(work=work, actor="alice")
    order_line_cancel(order=work.order, line_no=2, reason="customer")
    work.refresh_from_db()
    assert work.status == WorkStatus.PICKING
    assert work.lines.get(product=world.mug).cancelled == 1
    work = pick(work=work, line=work.lines.get(product=world.shirt), qty=1, actor="alice")
    assert work.status == WorkStatus.PICKED  # the cancelled line is not waited for
    other = place(world, "C-2", ("SHIRT", 1))
    order_cancel(order=other.order, reason="customer")
    other.refresh_from_db()
    assert other.status == WorkStatus.CANCELLED
    assert list(queue(location=world.ist)) == [work]
    assert stock(world.mug, world.ist) == (5, 0, 0)
    assert ledger_check() == []


def test_queue_is_by_deadline_and_work_for_refuses_other_locations(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    ship_work = place(world, "Q-1", ("SHIRT", 1))
    pickup = place_bopis(world, "Q-2", ("SHIRT", 1))  # due in 2 hours, before the shipment
    assert list(queue(location=world.ist)) == [pickup, ship_work]
    assert list(queue(location=world.ist, statuses=["shipped"])) == []
    ist_staff = StaffFactory(username="ist-clerk", assigned=world.ist)
    izm_staff = StaffFactory(username="izm-clerk", assigned=world.izm)
    assert work_for(who=ist_staff, pk=pickup.pk) == pickup
    with pytest.raises(NotFound) as exc:
        work_for(who=izm_staff, pk=pickup.pk)
    assert exc.value.code == "unknown_work"


def test_find_pickup_uncollected_and_preparation_times(world):
    from datetime import timedelta

    from django.utils import timezone

    from fulfillment.selectors import find_pickup, preparation_times, uncollected

    receive(world.shirt, world.ist, 5)
    work = mark_ready(work=pick_all(place_bopis(world, "P-1", ("SHIRT", 1), ship_name="Ayşe Yılmaz")), actor="alice")
    code = work.pickup_code
    dashed = f"{code[:3].lower()}-{code[3:]}"
    assert list(find_pickup(location=world.ist, query=dashed)) == [work]
    assert list(find_pickup(location=world.ist, query="P-1")) == [work]
    assert list(find_pickup(location=world.ist, query="yılmaz")) == [work]
    assert list(find_pickup(location=world.izm, query="P-1")) == []
    assert list(uncollected(location=world.ist)) == [work]
    assert list(uncollected(location=world.ist, older_than=work.ready_at)) == []
    hand_over(work=work, verification=ID, actor="bob")
    assert list(uncollected(location=world.ist)) == []
    now = timezone.now()
    [t] = preparation_times(since=now - timedelta(hours=1), until=now + timedelta(seconds=1))
    assert t.work_id == work.pk and t.on_time is True
    assert t.placed_to_ready is not None and t.placed_to_ready >= 0
    assert t.ready_to_collected is not None and t.ready_to_collected >= 0
    assert preparation_times(since=now - timedelta(hours=1), until=now, location=world.izm) == []
