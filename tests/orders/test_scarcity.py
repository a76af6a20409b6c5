"""Scarcity rules on hand-computed cases, then through intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inventory.models import Reservation
from omni.errors import InsufficientStock
from orders.models import Allocation, LineStatus, OrderStatus
from orders.routing.scarcity import Claim, scarcity_decide
from orders.services import backorders_allocate, order_create

from .factories import order_input, receive

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def claim(label, qty, *, margin=100, strategic=100, tier="standard", mode="standard", minutes=0, channel="c"):
    return Claim(label=label, quantity=qty, channel_code=channel, margin_rank=margin, strategic_priority=strategic,
                 customer_tier=tier, delivery_mode=mode, created_at=T0 + timedelta(minutes=minutes))


def test_above_threshold_first_come_first_served():
    v = scarcity_decide(sku="S", claim=claim("new", 3, minutes=9), atp=10, threshold=10, waiting=[claim("old", 5)])
    assert (v.scarce, v.granted, v.wins) == (False, 3, True)


def test_express_outranks_standard_even_from_a_lower_margin_channel():
    # ATP 4 < threshold 10. Waiting: express order of 3 (margin rank 9). New: standard order of 2 (margin rank 1).
    # Express goes first: 4 - 3 = 1 left < 2 requested → the new order loses.
    v = scarcity_decide(sku="S", claim=claim("new", 2, margin=1, minutes=5), atp=4, threshold=10,
                        waiting=[claim("order X", 3, margin=9, mode="express")])
    assert (v.scarce, v.granted, v.wins) == (True, 1, False)
    assert v.outranked_by == ("order X",)
    assert "guaranteed (express) delivery beats standard delivery" in v.reason
    assert "1 of 2 left for this order" in v.reason


def test_customer_tier_then_margin_then_strategic_priority():
    waiting = [
        claim("gold", 2, tier="gold", margin=50, minutes=1),
        claim("silver-m3", 2, tier="silver", margin=3, minutes=2),
        claim("silver-m3-s1", 2, tier="silver", margin=3, strategic=1, minutes=3),
    ]
    # New: silver, margin 3, strategic 50. Order: gold(2), silver-m3-s1(2), new(3)... ATP 5 → 5-2-2 = 1 < 3: loses.
    v = scarcity_decide(sku="S", claim=claim("new", 3, tier="silver", margin=3, strategic=50, minutes=9), atp=5,
                        threshold=6, waiting=waiting)
    assert v.outranked_by == ("gold", "silver-m3-s1")
    assert (v.granted, v.wins) == (1, False)
    # With strategic priority 1 and placed earlier than silver-m3-s1 it would rank before it: 5-2 = 3 ≥ 3: wins.
    v2 = scarcity_decide(sku="S", claim=claim("new", 3, tier="silver", margin=3, strategic=1, minutes=0), atp=5,
                         threshold=6, waiting=waiting)
    assert (v2.granted, v2.wins, v2.outranked_by) == (3, True, ("gold",))


def test_vip_new_order_wins_over_waiting_standard_backorders():
    v = scarcity_decide(sku="S", claim=claim("new", 2, tier="vip", minutes=30), atp=2, threshold=5,
                        waiting=[claim("old", 2, minutes=0)])
    assert (v.wins, v.outranked_by) == (True, ())


@pytest.mark.django_db
def test_scarce_sku_backorders_the_losing_order_with_a_reason(world):
    world.market.scarcity_threshold = 5
    world.market.shortage_policy = "backorder"
    world.market.save()
    world.web.scarcity_threshold = 5
    world.web.save()
    receive(world.cap, world.ist, 1)
    receive(world.mug, world.ist, 9)
    # Nothing on hand for CAP beyond 1: a gold web customer's express order for 2 is backordered (insufficient).
    first = order_create(channel=world.market, data=order_input("M-1", ("CAP", 2), ("MUG", 1), delivery_mode="express",
                                                              customer_tier="gold"))
    assert first.status == OrderStatus.BACKORDERED
    line = first.lines.get(line_no=1)
    assert line.status == LineStatus.BACKORDERED
    assert "CAP is scarce (ATP 1 < threshold 5)" in line.status_reason
    assert first.lines.get(line_no=2).status == LineStatus.ALLOCATED  # MUG is not scarce (ATP 9 ≥ 5)
    # Stock arrives: 1 more. A standard market order for 1 arrives before the backorder job ran:
    # the waiting express/gold backorder (2 units) outranks it, ATP 2 → 0 left → it loses too.
    receive(world.cap, world.ank, 1)
    second = order_create(channel=world.market, data=order_input("M-2", ("CAP", 1)))
    assert second.status == OrderStatus.BACKORDERED
    assert "order M-1 (market) (guaranteed (express) delivery beats standard delivery)" in second.lines.get().status_reason
    assert Reservation.objects.filter(stock_level__product=world.cap, status="open").count() == 0
    # The backorder job gives the two units to M-1 first; M-2 keeps waiting.
    results = backorders_allocate(product_ids=[world.cap.pk])
    assert [(r.line_no, r.backordered) for r in results] == [(1, False), (1, True)]
    first.refresh_from_db()
    assert first.status == OrderStatus.ALLOCATED
    assert sorted(Allocation.objects.filter(line__order=first, line__line_no=1).values_list("location__code", "quantity")) == [
        ("ST-IST", 1), ("WH-ANK", 1)]


@pytest.mark.django_db
def test_scarce_sku_rejects_when_the_channel_says_so(world):
    world.market.scarcity_threshold = 5
    world.market.save()  # shortage_policy defaults to reject
    receive(world.cap, world.ist, 3)
    with pytest.raises(InsufficientStock) as err:
        order_create(channel=world.market, data=order_input("M-3", ("CAP", 4)))
    assert err.value.code == "scarce_stock_rejected"
    assert "CAP is scarce (ATP 3 < threshold 5): only 3 of 4 available" in err.value.message
    assert err.value.details["lines"][0]["sku"] == "CAP"
    assert Reservation.objects.count() == 0
