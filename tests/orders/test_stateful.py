"""Random sequences of receive, order, hold, cancel, expire, fulfil, reject, return: the stock
invariants hold after every step. Each rule records what it actually did (``event``), and the
test fails unless every important outcome happened at least once across the run: a machine whose
rules only ever hit their no-op branches would check nothing."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db.models import Q, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import event as _hyp_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from inventory.models import Reservation, StockLevel
from inventory.services import ledger_check
from omni.errors import Conflict, IllegalTransition, InsufficientStock
from orders.models import Allocation, AllocationStatus, Hold, HoldStatus, OrderLine
from orders.services import (
    HoldLineInput,
    ReturnItem,
    allocation_fulfil,
    allocation_reject,
    hold_create,
    holds_expire,
    order_cancel,
    order_create,
    order_return,
)

from .factories import ChannelFactory, LocationFactory, ProductFactory, make_visible, order_input, receive

_world = itertools.count()
SEEN: dict[str, int] = {}

# Every one of these must happen at least once in a run (the run is derandomized: it cannot flake).
MUST_HAPPEN = {
    "received", "order placed", "order placed with hold", "order refused", "hold created", "hold expired",
    "order cancelled", "fulfilled", "rejected", "returned", "held cart ordered",
}


def event(name: str) -> None:
    SEEN[name] = SEEN.get(name, 0) + 1
    _hyp_event(name)


def _levels(products):
    return sorted(StockLevel.objects.filter(product__in=products).values_list("pk", "on_hand", "reserved", "damaged"))


class OrdersMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        n = next(_world)
        self.channel = ChannelFactory(code=f"hm-{n}")
        self.locations = [LocationFactory(code=f"HM{n}-A", latitude=41.0, longitude=29.0),
                          LocationFactory(code=f"HM{n}-B", latitude=39.9, longitude=32.8)]
        make_visible(self.channel, *self.locations)
        self.products = [ProductFactory(sku=f"HM{n}-S0"), ProductFactory(sku=f"HM{n}-S1")]
        self.order_ids: list[int] = []
        self.hold_ids: list = []
        self.seq = itertools.count()
        for product in self.products:  # start with some stock so that orders can succeed early
            receive(product, self.locations[0], 3)

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), qty=st.integers(1, 4))
    def receive(self, p, loc, qty):
        receive(self.products[p], self.locations[loc], qty)
        event("received")

    @rule(lines=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 3)), min_size=1, max_size=2), with_hold=st.booleans())
    def order(self, lines, with_hold):
        hold_id = ""
        if with_hold:
            active = [h for h in self.hold_ids if Hold.objects.filter(pk=h, status=HoldStatus.ACTIVE).exists()]
            hold_id = str(active[0]) if active else ""
        before = _levels(self.products)
        try:
            order = order_create(channel=self.channel, data=order_input(
                f"O-{next(self.seq)}", *[(self.products[p].sku, q) for p, q in lines], hold_id=hold_id))
        except (InsufficientStock, Conflict):
            assert _levels(self.products) == before  # a refused order changes nothing
            event("order refused")
            return
        self.order_ids.append(order.pk)
        event("order placed" + (" with hold" if hold_id else ""))

    @precondition(lambda self: self.hold_ids)
    @rule(i=st.integers(0, 50), less=st.booleans(), extra=st.booleans())
    def order_from_hold(self, i, less, extra):
        """A checkout: the cart that was held becomes an order (maybe one unit less, maybe one more line)."""
        active = list(Hold.objects.filter(pk__in=self.hold_ids, status=HoldStatus.ACTIVE).order_by("created_at"))
        if not active:
            return
        hold = active[i % len(active)]
        held = hold.lines.select_related("product").get()
        lines = [(held.product.sku, max(held.quantity - 1, 1) if less else held.quantity)]
        if extra:
            lines.append((next(p.sku for p in self.products if p.pk != held.product_id), 1))
        before = _levels(self.products)
        try:
            order = order_create(channel=self.channel, data=order_input(f"O-{next(self.seq)}", *lines, hold_id=str(hold.pk)))
        except InsufficientStock:
            assert _levels(self.products) == before
            event("order refused")
            return
        self.order_ids.append(order.pk)
        event("order placed with hold")
        event("held cart ordered")

    @rule(p=st.integers(0, 1), qty=st.integers(1, 3))
    def hold(self, p, qty):
        before = _levels(self.products)
        try:
            hold = hold_create(channel=self.channel, lines=[HoldLineInput(sku=self.products[p].sku, quantity=qty)], ttl_seconds=60)
        except InsufficientStock:
            assert _levels(self.products) == before
            event("hold refused")
            return
        self.hold_ids.append(hold.pk)
        event("hold created")

    @rule()
    def expire(self):
        if holds_expire(now=timezone.now() + timedelta(minutes=5)):
            event("hold expired")

    @precondition(lambda self: self.order_ids)
    @rule(i=st.integers(0, 50))
    def cancel(self, i):
        try:
            order_cancel(order=self.order_ids[i % len(self.order_ids)])
            event("order cancelled")
        except IllegalTransition:
            event("cancel refused")

    def _allocations(self, status):
        return list(Allocation.objects.filter(line__order_id__in=self.order_ids, status=status).order_by("id"))

    @rule(i=st.integers(0, 50))
    def fulfil(self, i):
        allocs = self._allocations(AllocationStatus.RESERVED)
        if allocs:
            allocation_fulfil(allocation=allocs[i % len(allocs)])
            event("fulfilled")

    @rule(i=st.integers(0, 50))
    def reject(self, i):
        allocs = self._allocations(AllocationStatus.RESERVED)
        if allocs:
            allocation_reject(allocation=allocs[i % len(allocs)], reason="short pick")
            event("rejected")

    @rule(i=st.integers(0, 50), loc=st.integers(0, 1), resellable=st.booleans())
    def return_(self, i, loc, resellable):
        lines = [ln for ln in OrderLine.objects.filter(order_id__in=self.order_ids).order_by("id")
                 if (ln.allocations.filter(status=AllocationStatus.FULFILLED).aggregate(n=Sum("quantity"))["n"] or 0)
                 > ln.quantity_returned]
        if lines:
            ln = lines[i % len(lines)]
            order_return(order=ln.order_id, location=self.locations[loc],
                         items=[ReturnItem(line_no=ln.line_no, quantity=1, resellable=resellable)])
            event("returned")

    @invariant()
    def ledger_balanced(self):
        assert ledger_check() == []

    @invariant()
    def reserved_within_on_hand_and_equal_to_open_reservations(self):
        for lv in StockLevel.objects.filter(product__in=self.products):
            open_sum = Reservation.objects.filter(stock_level=lv, status="open").aggregate(s=Sum("quantity"))["s"] or 0
            assert 0 <= lv.reserved <= lv.on_hand
            assert lv.reserved == open_sum

    @invariant()
    def no_line_over_allocated_and_allocations_match_reservations(self):
        for ln in OrderLine.objects.filter(order_id__in=self.order_ids):
            live = ln.allocations.filter(status__in=[AllocationStatus.RESERVED, AllocationStatus.FULFILLED])
            assert (live.aggregate(n=Sum("quantity"))["n"] or 0) <= ln.quantity
            assert ln.quantity_returned <= (ln.allocations.filter(status=AllocationStatus.FULFILLED)
                                            .aggregate(n=Sum("quantity"))["n"] or 0)
        for a in Allocation.objects.filter(line__order_id__in=self.order_ids):
            res = Reservation.objects.get(pk=a.reservation_id)
            expected = {"reserved": "open", "fulfilled": "consumed", "cancelled": "released", "rejected": "released"}[a.status]
            assert (res.status, res.quantity) == (expected, a.quantity)

    @invariant()
    def only_active_holds_hold_stock(self):
        open_refs = Reservation.objects.filter(status="open").filter(
            Q(reference__startswith="hold:")).values_list("reference", flat=True)
        active = {str(h) for h in Hold.objects.filter(status=HoldStatus.ACTIVE).values_list("pk", flat=True)}
        assert {ref.split(":")[1] for ref in open_refs} <= active


@pytest.mark.django_db
def test_orders_state_machine():
    SEEN.clear()
    run_state_machine_as_test(
        OrdersMachine,
        settings=settings(max_examples=20, stateful_step_count=20, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
    missing = MUST_HAPPEN - SEEN.keys()
    assert not missing, f"these never happened, so nothing checked them: {sorted(missing)}; seen: {SEEN}"
