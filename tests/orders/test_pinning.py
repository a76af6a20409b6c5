"""Manual pin: a merchandiser forces an open line (or its backordered rest) to a location of their
choice. Through the ledger's reservation rules: refused with a clear error (and nothing changed)
when the location lacks the stock or the capacity or cannot serve the delivery mode; never oversells."""

from __future__ import annotations

import pytest

from inventory.models import LocationDayLoad, Reservation, StockLevel
from inventory.selectors import capacity_used
from inventory.services import ledger_check
from omni.errors import Conflict, IllegalTransition, InsufficientStock
from orders.models import Allocation, AllocationStatus, LineStatus, OrderEvent, OrderStatus, RoutingDecision
from orders.selectors import pin_candidates
from orders.services import allocation_reject, order_cancel, order_create, order_line_pin

from .factories import LocationFactory, order_input, receive

pytestmark = pytest.mark.django_db


def held(product, location) -> tuple[int, int]:
    lv = StockLevel.objects.get(product=product, location=location)
    return lv.on_hand, lv.reserved


def snapshot(order):
    return (list(StockLevel.objects.order_by("id").values_list("on_hand", "reserved")),
            list(Allocation.objects.filter(line__order=order).order_by("id").values_list("location_id", "quantity", "status")),
            order.events.count(), RoutingDecision.objects.filter(order=order).count(),
            Reservation.objects.filter(status="open").count())


def test_pinning_moves_the_reserved_units_to_the_chosen_location_and_records_who_did_it(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.ank, 5)
    order = order_create(channel=world.web, data=order_input("P-1", ("SHIRT", 2)))
    first = Allocation.objects.get(line__order=order)
    assert first.location == world.ist  # routing chose the nearest

    result = order_line_pin(order=order, line_no=1, location=world.ank, actor="alice", reason="IST is closing early")

    assert (result.location, result.quantity, result.moved_from) == ("WH-ANK", 2, [("ST-IST", 2)])
    assert held(world.shirt, world.ist) == (5, 0) and held(world.shirt, world.ank) == (5, 2)
    first.refresh_from_db()
    assert first.status == AllocationStatus.REJECTED and "moved to WH-ANK" in first.reason
    live = Allocation.objects.get(line__order=order, status=AllocationStatus.RESERVED)
    assert (live.location, live.quantity) == (world.ank, 2)
    decision = RoutingDecision.objects.get(pk=result.decision_id)
    assert (decision.kind, decision.reason, decision.plan) == (
        "manual_pin", "manual pin by alice: IST is closing early", [{"line": 1, "location": "WH-ANK", "quantity": 2}])
    event = order.events.get(kind="line_pinned")
    assert (event.actor, event.data["location"], event.data["moved_from"]) == ("alice", "WH-ANK", [{"location": "ST-IST", "quantity": 2}])
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert ledger_check() == []
    # the units moved are missing from nowhere: a cancel gives back exactly what the pin reserved
    order_cancel(order=order, reason="test")
    assert held(world.shirt, world.ank) == (5, 0)


def test_pinning_a_backordered_line_allocates_it_at_the_chosen_location(world):
    receive(world.shirt, world.ist, 2)
    order = order_create(channel=world.web, data=order_input("P-2", ("SHIRT", 2)))
    allocation_reject(allocation=Allocation.objects.get(line__order=order), reason="not found")
    line = order.lines.get()
    assert line.status == LineStatus.BACKORDERED
    receive(world.shirt, world.izm, 3)

    result = order_line_pin(order=order, line_no=1, location=world.izm, actor="bob")

    line.refresh_from_db()
    order.refresh_from_db()
    assert (line.status, order.status, result.moved_from, result.quantity) == (LineStatus.ALLOCATED, OrderStatus.ALLOCATED, [], 2)
    assert held(world.shirt, world.izm) == (3, 2)
    assert ledger_check() == []


def test_a_pin_the_location_cannot_serve_is_refused_and_changes_nothing(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.ank, 1)
    hidden = LocationFactory(code="ST-HIDDEN")  # the web channel does not sell from it
    receive(world.shirt, hidden, 9)
    order = order_create(channel=world.web, data=order_input("P-3", ("SHIRT", 2)))
    before = snapshot(order)

    with pytest.raises(InsufficientStock, match=r"WH-ANK has fewer than 2 × SHIRT available") as err:
        order_line_pin(order=order, line_no=1, location=world.ank, actor="alice")  # 1 unit there: never oversold
    assert err.value.code == "insufficient_stock"

    with pytest.raises(Conflict, match="does not sell from ST-HIDDEN") as err:
        order_line_pin(order=order, line_no=1, location=hidden, actor="alice")
    assert err.value.code == "pin_not_eligible"

    with pytest.raises(Conflict, match="all at ST-IST already"):
        order_line_pin(order=order, line_no=1, location=world.ist, actor="alice")
    assert snapshot(order) == before
    assert ledger_check() == []


def test_a_location_that_does_not_ship_or_has_no_capacity_left_is_refused(world):
    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("P-4", ("SHIRT", 1)))
    world.izm.can_ship = False
    world.izm.save()
    receive(world.shirt, world.izm, 5)
    with pytest.raises(Conflict, match="ST-IZM does not ship to customers"):
        order_line_pin(order=order, line_no=1, location=world.izm, actor="alice")

    world.ank.daily_capacity = 1
    world.ank.save()
    receive(world.shirt, world.ank, 5)
    other = order_create(channel=world.market, data=order_input("P-5", ("SHIRT", 1), lat=39.9, lon=32.8))
    assert Allocation.objects.get(line__order=other).location == world.ank  # takes ANK's only slot today
    before = snapshot(order)
    with pytest.raises(InsufficientStock, match="WH-ANK has no capacity left today") as err:
        order_line_pin(order=order, line_no=1, location=world.ank, actor="alice")
    assert err.value.code == "capacity_exhausted"
    assert snapshot(order) == before and capacity_used(location_ids=[world.ank.pk]) == {world.ank.pk: 1}


def test_a_cancelled_line_cannot_be_pinned(world):
    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("P-6", ("SHIRT", 1)))
    order_cancel(order=order)
    with pytest.raises(IllegalTransition, match="only an open line can be pinned"):
        order_line_pin(order=order, line_no=1, location=world.ank, actor="alice")


def test_pin_candidates_show_each_location_with_its_stock_distance_and_why_not(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.ank, 1)
    receive(world.shirt, world.izm, 4)
    order = order_create(channel=world.web, data=order_input("P-7", ("SHIRT", 2)))  # from IST (41.0, 29.0)
    cands = {c.code: c for c in pin_candidates(order=order, line_no=1)}
    assert set(cands) == {"ST-IST", "WH-ANK", "ST-IZM"}
    assert (cands["ST-IZM"].available, cands["ST-IZM"].units, cands["ST-IZM"].refusal) == (4, 2, "")
    assert cands["WH-ANK"].refusal == "Only 1 of 2 available at WH-ANK."
    assert cands["ST-IST"].refusal.startswith("The line's open units are all at ST-IST")
    assert cands["ST-IZM"].distance_km is not None and 250 < cands["ST-IZM"].distance_km < 350
    assert [c.code for c in pin_candidates(order=order, line_no=1)][0] == "ST-IZM"  # eligible first
    assert not LocationDayLoad.objects.exists()
    assert OrderEvent.objects.filter(order=order).count() == order.events.count()


def test_pin_candidates_read_the_line_once_however_many_locations(world):
    """The admin's chooser lists every location the channel sells from: the line's allocations are
    read once for all of them, not once per location."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.allocation.factories import make_visible

    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("P-8", ("SHIRT", 1)))
    make_visible(world.web, *[LocationFactory(code=f"ST-N{i}") for i in range(2)])
    with CaptureQueriesContext(connection) as few:
        pin_candidates(order=order, line_no=1)
    make_visible(world.web, *[LocationFactory(code=f"ST-M{i}") for i in range(10)])
    with CaptureQueriesContext(connection) as many:
        cands = pin_candidates(order=order, line_no=1)
    assert len(cands) >= 12 + 3
    assert len(many.captured_queries) == len(few.captured_queries)
