"""One route → reserve → retry policy for intake, holds, re-routing and backorders; and the hand-over
of a hold's units to the order that consumes it.

A lost race is provoked deterministically: the real router is wrapped so that, right after it
plans, a "thief" reserves exactly the planned units (as a concurrent order would), and the plan's
own reservation then finds them gone. Everything else is the real code on the real database."""

from __future__ import annotations

import pytest

from inventory.models import Reservation, StockLevel
from inventory.services import ledger_check, reservation_create
from omni.errors import InsufficientStock
from orders.models import Allocation, AllocationStatus, HoldStatus, LineStatus, Order
from orders.services import (
    HoldLineInput,
    allocation_reject,
    backorders_allocate,
    hold_create,
    order_create,
    planning,
)
from orders.routing.engine import ProfileSpec
from orders.services.allocating import line_needs
from orders.services.planning import ROUTE_ATTEMPTS, RouteRequest, plan_and_reserve

from .factories import order_input, receive

pytestmark = pytest.mark.django_db


class Thief:
    """Wraps the router: the first ``steals`` plans lose their units right after routing."""

    def __init__(self, monkeypatch, steals: int = 1):
        self.calls = 0
        self.steals = steals
        self.stolen: list[str] = []
        self._route = planning.route
        monkeypatch.setattr(planning, "route", self)

    def __call__(self, **kwargs):
        decision = self._route(**kwargs)
        self.calls += 1
        if self.calls <= self.steals:
            from inventory.models import Location, Product

            for p in decision.plan:
                reservation_create(product=Product.objects.get(pk=p.product_id), location=Location.objects.get(pk=p.location_id),
                                   quantity=p.quantity, reference=f"thief:{self.calls}")
                self.stolen.append(p.location_code)
        return decision


def open_refs() -> dict[str, int]:
    return {r.reference.split(":")[0]: r.quantity for r in Reservation.objects.filter(status="open")}


def test_intake_reroutes_once_after_losing_the_units_it_planned(world, monkeypatch):
    receive(world.shirt, world.ist, 1)
    receive(world.shirt, world.ank, 1)
    thief = Thief(monkeypatch)
    order = order_create(channel=world.web, data=order_input("PL-1", ("SHIRT", 1)))
    assert thief.calls == 2 and thief.stolen == ["ST-IST"]
    assert list(Allocation.objects.filter(line__order=order).values_list("location__code", "quantity")) == [("WH-ANK", 1)]
    assert order.events.get(kind="routed").data["attempts"] == 2
    assert open_refs() == {"thief": 1, "order-allocation": 1}
    assert ledger_check() == []


def test_hold_reroutes_once_after_losing_the_units_it_planned(world, monkeypatch):
    receive(world.mug, world.ist, 2)
    receive(world.mug, world.ank, 2)
    thief = Thief(monkeypatch)
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="MUG", quantity=2)], latitude=41.0, longitude=29.0)
    assert thief.calls == 2
    assert [(hl.location.code, hl.quantity) for hl in hold.lines.select_related("location")] == [("WH-ANK", 2)]
    assert open_refs() == {"thief": 2, "hold": 2}
    assert ledger_check() == []


def test_reroute_of_a_rejected_line_retries_once_after_losing_the_units_it_planned(world, monkeypatch):
    receive(world.cap, world.ist, 1)
    receive(world.cap, world.ank, 1)
    receive(world.cap, world.izm, 1)
    order = order_create(channel=world.web, data=order_input("PL-3", ("CAP", 1)))
    alloc = Allocation.objects.get(line__order=order)
    assert alloc.location == world.ist
    thief = Thief(monkeypatch)
    result = allocation_reject(allocation=alloc, reason="short pick")
    assert thief.calls == 2 and not result.backordered
    first = thief.stolen[0]
    assert first in ("WH-ANK", "ST-IZM")
    assert [a.location.code for a in result.allocations] == [{"WH-ANK": "ST-IZM", "ST-IZM": "WH-ANK"}[first]]
    assert order.events.get(kind="line_routed").data["attempts"] == 2
    assert ledger_check() == []


def test_backorder_allocation_retries_once_after_losing_the_units_it_planned(world, monkeypatch):
    world.web.scarcity_threshold = 3
    world.web.shortage_policy = "backorder"
    world.web.save()
    order = order_create(channel=world.web, data=order_input("PL-4", ("SHIRT", 1)))
    assert order.lines.get().status == LineStatus.BACKORDERED
    receive(world.shirt, world.ist, 1)
    receive(world.shirt, world.izm, 1)
    thief = Thief(monkeypatch)
    results = backorders_allocate()
    assert thief.calls == 2
    assert [(r.backordered, [a.location.code for a in r.allocations]) for r in results] == [
        (False, [{"ST-IST": "ST-IZM", "ST-IZM": "ST-IST"}[thief.stolen[0]]])]
    assert order.lines.get().status == LineStatus.ALLOCATED
    assert order.events.filter(kind="line_routed").get().data["attempts"] == 2
    assert ledger_check() == []


def test_when_every_plan_is_lost_the_order_is_refused_and_nothing_is_stored(world, monkeypatch):
    receive(world.shirt, world.ist, 1)
    receive(world.shirt, world.ank, 1)
    thief = Thief(monkeypatch, steals=ROUTE_ATTEMPTS)
    before = sorted(StockLevel.objects.values_list("pk", "on_hand", "reserved"))
    with pytest.raises(InsufficientStock):
        order_create(channel=world.web, data=order_input("PL-5", ("SHIRT", 1)))
    assert thief.calls == 2  # the third routing found nothing left: no plan, no retry
    assert not Order.objects.exists()
    # The thief reserved inside the order's transaction, so its units went back with the rollback too.
    assert sorted(StockLevel.objects.values_list("pk", "on_hand", "reserved")) == before
    assert open_refs() == {}


def test_the_attempts_are_bounded(world):
    receive(world.shirt, world.ist, 5)
    needs, facts = line_needs([(1, world.shirt, 1)])
    tries = []

    def always_lose(decision):
        tries.append(decision.plan[0].location_code)
        raise InsufficientStock("lost to another order")

    with pytest.raises(InsufficientStock, match="lost to another order"):
        plan_and_reserve(request=RouteRequest(channel=world.web, lines=needs, products=facts, destination=(41.0, 29.0),
                                              profile=ProfileSpec()), reserve=always_lose)
    assert tries == ["ST-IST"] * ROUTE_ATTEMPTS


def test_an_order_takes_over_its_holds_units_and_gives_back_what_it_does_not_need(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    receive(world.cap, world.ist, 5)
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=3), HoldLineInput(sku="CAP", quantity=1)],
                       latitude=41.0, longitude=29.0)
    hold_reservations = list(hold.lines.values_list("reservation_id", flat=True))
    order = order_create(channel=world.web, data=order_input("PL-7", ("SHIRT", 2), ("MUG", 1), hold_id=str(hold.pk)))
    hold.refresh_from_db()
    assert hold.status == HoldStatus.CONSUMED
    # The hold's 3 shirts: 2 handed over to the order, 1 given back; the cap the order did not want, given back.
    assert sorted(Reservation.objects.filter(pk__in=hold_reservations).values_list("status", "quantity")) == [
        ("released", 1), ("released", 1)]
    levels = {lv.product.sku: lv.reserved for lv in StockLevel.objects.select_related("product")}
    assert levels == {"SHIRT": 2, "MUG": 1, "CAP": 0}
    allocs = Allocation.objects.filter(line__order=order, status=AllocationStatus.RESERVED).order_by("line__line_no")
    for a in allocs:
        res = Reservation.objects.get(pk=a.reservation_id)
        assert (res.reference, res.status, res.quantity, res.expires_at) == (f"order-allocation:{a.pk}", "open", a.quantity, None)
    assert ledger_check() == []


def _allocations_as_reserved(order: Order) -> list[tuple]:
    """(line, location, quantity) of the order's allocations by key, each checked against its reservation."""
    out = []
    for a in Allocation.objects.filter(line__order=order).select_related("line", "location").order_by("pk"):
        res = Reservation.objects.select_related("stock_level").get(pk=a.reservation_id)
        assert (res.reference, res.status, res.quantity) == (f"order-allocation:{a.pk}", "open", a.quantity)
        assert (res.stock_level.product_id, res.stock_level.location_id) == (a.line.product_id, a.location_id)
        assert (a.status, a.reason, a.closed_at, a.ship_to_store_id) == (AllocationStatus.RESERVED, "", None, None)
        assert a.created_at is not None
        out.append((a.line.line_no, a.location.code, a.quantity))
    return out


def test_allocations_take_their_keys_first_and_are_written_once_with_their_reservation(world):
    """On PostgreSQL the allocations' keys are read before the reservations (ahead, with routing's
    candidates, for a plan of one allocation per line), each reservation names its allocation from
    the start, and the allocation is written once with its reservation id: the same rows as the
    insert-then-update it replaced, keys ascending in the plan's order."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omni.prepared import _name
    from orders.services.allocating import _allocation_keys_sql

    receive(world.shirt, world.ist, 2)
    receive(world.shirt, world.izm, 2)
    receive(world.mug, world.ist, 5)
    receive(world.cap, world.ist, 5)
    # A split line (two allocations for one line: the plan reads its own keys), in the plan's order.
    order = order_create(channel=world.web, data=order_input("AK-1", ("SHIRT", 3)))
    planned = [(p["line"], p["location"], p["quantity"]) for p in order.routing_decisions.get().plan]
    assert _allocations_as_reserved(order) == planned and len(planned) == 2
    # One allocation per line: the keys read ahead with the candidates serve.
    with CaptureQueriesContext(connection) as ctx:
        order = order_create(channel=world.web, data=order_input("AK-2", ("CAP", 1), ("MUG", 2)))
    assert _allocations_as_reserved(order) == [(1, "ST-IST", 1), (2, "ST-IST", 2)]
    if connection.vendor == "postgresql":
        keys = _name(_allocation_keys_sql(), "omni_alloc_")
        sent = [q["sql"] for q in ctx.captured_queries]
        assert [("omni_route_" in q) for q in sent if keys in q] == [True], sent
        assert not any("UPDATE" in q.upper() and "orders_allocation" in q for q in sent), sent
    assert {(lv.product.sku, lv.location.code): lv.reserved for lv in StockLevel.objects.filter(reserved__gt=0)
            .select_related("product", "location")} == {
        **{("SHIRT", code): q for _line, code, q in planned}, ("CAP", "ST-IST"): 1, ("MUG", "ST-IST"): 2}
    assert ledger_check() == []


def test_a_reservation_request_takes_the_cached_location_only_when_it_has_the_plans_code(world, monkeypatch):
    # Intake's reservations take their location from the rows it keeps with the allocations
    # (the process's cache) instead of building one, but only where that row's code is the one
    # routing read in the transaction: a request's location (its key, and its code in an error
    # message) is the plan's, as when a Location(pk=…, code=…) was built for every request.
    from inventory.models import Location
    from orders.services import allocating

    receive(world.shirt, world.ist, 5)
    seen = []
    create = allocating.reservations_create

    def spy(*, requests, **kwargs):
        seen.append([(r.location, r.location.pk, r.location.code) for r in requests])
        return create(requests=requests, **kwargs)

    monkeypatch.setattr(allocating, "reservations_create", spy)
    order = order_create(channel=world.web, data=order_input("PL-LOC-1", ("SHIRT", 1)))
    [[(location, pk, code)]] = seen
    [alloc] = order._as_written[1]
    assert (pk, code) == (world.ist.pk, world.ist.code) and location is alloc.location  # the kept row, not a new one
    # Another process renames the location (no clear here): routing reads the new code, the cache
    # keeps the old row for its time; the request is named as the plan names it.
    Location.objects.filter(pk=world.ist.pk).update(code="ST-IST-2")
    seen.clear()
    order = order_create(channel=world.web, data=order_input("PL-LOC-2", ("SHIRT", 1)))
    [[(location, pk, code)]] = seen
    [alloc] = order._as_written[1]
    assert (pk, code) == (world.ist.pk, "ST-IST-2") and location is not alloc.location
    assert alloc.location.code == world.ist.code  # the answer's row: the cache's, as before
