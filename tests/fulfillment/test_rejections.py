"""Rejections: each reason's stock effect, the re-route with its stored decision, the routing
profile's rule when nobody else has the units, and routing learning from "not found"."""

from __future__ import annotations


import pytest

from fulfillment.models import RejectReason, Work, WorkStatus
from fulfillment.services import pick, reject
from inventory.models import StockMovement
from inventory.services import ledger_check
from omni.errors import IllegalTransition, ValidationFailed
from orders.models import LineStatus, OrderStatus, RoutingDecision
from tests.orders.factories import RoutingProfileFactory

from .factories import place, receive, stock

pytestmark = pytest.mark.django_db


def test_not_found_writes_the_unit_off_asks_for_a_count_and_reroutes(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    work = place(world, "R-1", ("SHIRT", 1))
    assert work.location == world.ist
    line = work.lines.get()
    work = reject(work=work, quantities={line.pk: (1, RejectReason.NOT_FOUND)}, actor="alice", note="empty shelf")
    assert work.status == WorkStatus.REJECTED
    assert stock(world.shirt, world.ist) == (4, 0, 0)  # held back until counted
    adj = StockMovement.objects.get(reason="adjustment")
    assert (adj.quantity, adj.reference) == (-1, f"count-pending:work:{work.pk}")
    assert stock(world.shirt, world.izm) == (5, 1, 0)
    new = Work.objects.get(order=work.order, location=world.izm)
    assert new.status == WorkStatus.NEW and new.lines.get().quantity == 1
    decision = RoutingDecision.objects.filter(order=work.order, kind="reroute").get()
    assert [p["location"] for p in decision.plan] == ["ST-IZM"]
    assert all(c["location"] != "ST-IST" for c in decision.candidates)
    rerouted = work.events.get(kind="rerouted").data
    assert rerouted["backordered"] is False and rerouted["allocations"] == [{"location_id": world.izm.pk, "quantity": 1}]
    assert work.events.get(kind="rejected").data["reason"] == "not_found"
    assert ledger_check() == []


def test_not_found_opens_a_count_task_for_the_sku_at_the_store(world):
    from inventory.counting.models import CountTask

    receive(world.shirt, world.ist, 5)
    work = place(world, "R-1b", ("SHIRT", 1))
    reject(work=work, quantities={work.lines.get().pk: (1, RejectReason.NOT_FOUND)}, actor="alice")
    task = CountTask.objects.get(location=world.ist)
    assert list(task.lines.values_list("product__sku", flat=True)) == ["SHIRT"]
    assert work.events.get(kind="rejected").data["count_task"] == task.pk


def test_damaged_part_goes_to_the_damaged_bucket_and_the_rest_stays(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    work = place(world, "R-2", ("SHIRT", 2))
    line = work.lines.get()
    pick(work=work, line=line, qty=1, actor="alice")
    work = reject(work=work, quantities={line.pk: (1, RejectReason.DAMAGED)}, actor="alice")
    assert work.status == WorkStatus.PICKED  # one picked, one rejected: nothing left to pick
    assert stock(world.shirt, world.ist) == (4, 1, 1)
    assert stock(world.shirt, world.izm) == (5, 1, 0)
    line.refresh_from_db()
    assert (line.quantity, line.picked, line.rejected, line.open_quantity) == (2, 1, 1, 1)
    assert Work.objects.get(order=work.order, location=world.izm).lines.get().quantity == 1
    assert ledger_check() == []


def test_customer_cancelled_releases_without_rerouting(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    work = place(world, "R-3", ("SHIRT", 2))
    line = work.lines.get()
    work = reject(work=work, quantities={line.pk: (2, RejectReason.CUSTOMER_CANCELLED)}, actor="alice")
    assert work.status == WorkStatus.REJECTED
    assert stock(world.shirt, world.ist) == (5, 0, 0)
    assert stock(world.shirt, world.izm) == (5, 0, 0)
    assert Work.objects.filter(order=work.order).count() == 1
    work.order.refresh_from_db()
    assert work.order.status == OrderStatus.CANCELLED
    assert ledger_check() == []


def test_other_without_stock_elsewhere_backorders_by_default(world):
    receive(world.shirt, world.ist, 1)
    work = place(world, "R-4", ("SHIRT", 1))
    reject(work=work, quantities={work.lines.get().pk: (1, RejectReason.OTHER)}, actor="alice", note="cannot reach shelf")
    assert stock(world.shirt, world.ist) == (1, 0, 0)  # no stock effect
    order_line = work.order.lines.get()
    assert order_line.status == LineStatus.BACKORDERED and "reroute" in order_line.status_reason
    assert work.events.get(kind="rerouted").data["backordered"] is True
    assert ledger_check() == []


def test_the_routing_profile_may_cancel_what_nobody_has(world):
    RoutingProfileFactory(channel=world.web, reroute_shortage="cancel",
                          criteria=[{"name": "proximity", "weight": 1.0}])
    receive(world.shirt, world.ist, 1)
    receive(world.mug, world.ist, 1)
    work = place(world, "R-5", ("SHIRT", 1), ("MUG", 1))
    shirt = work.lines.get(product=world.shirt)
    work = reject(work=work, quantities={shirt.pk: (1, RejectReason.OTHER)}, actor="alice")
    assert work.status == WorkStatus.NEW  # the mug is still to pick
    line = work.order.lines.get(line_no=1)
    assert line.status == LineStatus.CANCELLED and "No other location has it" in line.status_reason
    assert work.events.get(kind="rerouted").data["cancelled"] == 1
    assert ledger_check() == []


def test_bad_rejections_change_nothing(world):
    receive(world.shirt, world.ist, 5)
    work = place(world, "R-6", ("SHIRT", 2))
    line = work.lines.get()
    for bad, code in [({line.pk: (3, "other")}, "invalid_quantity"), ({line.pk: (1, "lost")}, "invalid_reason"),
                      ({}, "invalid")]:
        with pytest.raises(ValidationFailed) as exc:
            reject(work=work, quantities=bad, actor="alice")
        assert exc.value.code == code
    assert stock(world.shirt, world.ist) == (5, 2, 0)
    assert not work.events.filter(kind="rejected").exists()
    Work.objects.filter(pk=work.pk).update(status=WorkStatus.SHIPPED)
    with pytest.raises(IllegalTransition):
        reject(work=work, quantities={line.pk: (1, "other")}, actor="alice")


def test_not_found_lowers_the_location_accuracy_in_routing(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    work = place(world, "R-7", ("SHIRT", 1))
    reject(work=work, quantities={work.lines.get().pk: (1, RejectReason.NOT_FOUND)}, actor="alice")
    later = place(world, "R-8", ("SHIRT", 1))
    scores = {c["location"]: c["scores"]["accuracy"] for c in RoutingDecision.objects.get(order=later.order).candidates}
    assert scores == {"ST-IST": 0.5, "ST-IZM": 1.0}  # (0 accurate counts + 1) / (0 counts + 1 not found + 1)
