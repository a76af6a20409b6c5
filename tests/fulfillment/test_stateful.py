"""Random sequences across orders and fulfillment — place (shipping or pickup), pick, reject (any
reason, in part), re-route, pack, ship, make ready, hand over (in part), cancel — and after every
step the ledger balances, nothing is oversold and every work line's open units are exactly what
its allocation still holds. Each rule records what it did; the test fails unless every important
outcome happened (a machine whose rules only hit no-op branches would check nothing)."""

from __future__ import annotations

import itertools

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import event as _hyp_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from fulfillment.models import RejectReason, Work, WorkLine, WorkStatus
from fulfillment.services import Verification, hand_over, mark_ready, pack, pick, reject, ship
from inventory.models import StockLevel
from inventory.services import ledger_check
from omni.errors import IllegalTransition, InsufficientStock
from orders.models import Allocation, AllocationStatus, DeliveryMode, Order, OrderEvent, OrderLine, OrderStatus
from orders.services import order_cancel, order_create
from tests.orders.factories import ChannelFactory, LocationFactory, ProductFactory, make_visible, order_input, receive

_world = itertools.count()
SEEN: dict[str, int] = {}
MUST_HAPPEN = {
    "placed", "placed for pickup", "refused", "picked", "rejected", "rerouted elsewhere", "shipped", "ready",
    "handed over", "handed over in part", "cancelled", "cancel refused",
}


def event(name: str) -> None:
    SEEN[name] = SEEN.get(name, 0) + 1
    _hyp_event(name)


class FulfillmentMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        n = next(_world)
        self.channel = ChannelFactory(code=f"fm-{n}")
        self.stores = [LocationFactory(code=f"FM{n}-S{i}", latitude=41.0 + i / 10, longitude=29.0, can_pickup=True)
                       for i in range(2)]
        make_visible(self.channel, *self.stores)
        self.products = [ProductFactory(sku=f"FM{n}-P{i}") for i in range(2)]
        for p in self.products:
            receive(p, self.stores[0], 4)
            receive(p, self.stores[1], 4)
        self.order_ids: list[int] = []
        self.seq = itertools.count()

    def _works(self, *statuses):
        return list(Work.objects.filter(order_id__in=self.order_ids, status__in=statuses).order_by("pk"))

    @rule(p=st.integers(0, 1), loc=st.integers(0, 1), q=st.integers(1, 3))
    def receive_stock(self, p, loc, q):
        receive(self.products[p], self.stores[loc], q)

    @rule(p=st.integers(0, 1), q=st.integers(1, 3), bopis=st.booleans(), store=st.integers(0, 1))
    def place(self, p, q, bopis, store):
        kw = {"delivery_mode": DeliveryMode.BOPIS, "pickup_location": self.stores[store].code} if bopis else {}
        try:
            order = order_create(channel=self.channel, data=order_input(f"{self.channel.code}-{next(self.seq)}",
                                                                       (self.products[p].sku, q), **kw))
        except InsufficientStock:
            event("refused")
            return
        self.order_ids.append(order.pk)
        event("placed for pickup" if bopis else "placed")

    @rule(i=st.integers(0, 50), q=st.integers(1, 2), everything=st.booleans(), part=st.booleans())
    def work_on(self, i, q, everything, part):
        """Take one open work a step further: pick (some or all), then pack and ship, or make
        ready, or hand over (in part)."""
        works = self._works(WorkStatus.NEW, WorkStatus.PICKING, WorkStatus.PICKED, WorkStatus.READY_FOR_PICKUP)
        if not works:
            return
        w = works[i % len(works)]
        if w.status in (WorkStatus.NEW, WorkStatus.PICKING):
            lines = [ln for ln in w.lines.order_by("pk") if ln.to_pick]
            for ln in (lines if everything else lines[:1]):
                pick(work=w, line=ln, qty=ln.to_pick if everything else min(q, ln.to_pick), actor="picker")
            event("picked")
        elif w.status == WorkStatus.PICKED and w.kind in ("ship_from_store", "warehouse_ship"):
            w = pack(work=w, box_type="S", actor="packer")
            ship(work=w, tracking_number=f"T{w.pk}", carrier="UPS", actor="packer")
            event("shipped")
        elif w.status == WorkStatus.PICKED:
            mark_ready(work=w, actor="clerk")
            event("ready")
        elif w.status == WorkStatus.READY_FOR_PICKUP:
            self._collect(w, part)

    @rule(i=st.integers(0, 50), part=st.booleans())
    def collect(self, i, part):
        works = self._works(WorkStatus.READY_FOR_PICKUP)
        if works:
            self._collect(works[i % len(works)], part)

    def _collect(self, w, part):
        lines = [ln for ln in w.lines.order_by("pk") if ln.ready_quantity]
        quantities = None
        if part and sum(ln.ready_quantity for ln in lines) > 1:
            quantities = {ln.pk: ln.ready_quantity for ln in lines}
            quantities[lines[0].pk] -= 1
            event("handed over in part")
        hand_over(work=w, quantities=quantities, verification=Verification(collector_name="Can"), actor="clerk")
        event("handed over")

    @rule(i=st.integers(0, 50), reason=st.sampled_from(RejectReason.values), q=st.integers(1, 3))
    def reject_some(self, i, reason, q):
        lines = [ln for ln in WorkLine.objects.filter(work__in=self._works(
            WorkStatus.NEW, WorkStatus.PICKING, WorkStatus.PICKED, WorkStatus.PACKED, WorkStatus.READY_FOR_PICKUP)).order_by("pk")
            if ln.open_quantity]
        if lines:
            ln = lines[i % len(lines)]
            before = Work.objects.filter(order_id=ln.work.order_id).count()
            reject(work=ln.work_id, quantities={ln.pk: (min(q, ln.open_quantity), reason)}, actor="picker")
            event("rejected")
            if Work.objects.filter(order_id=ln.work.order_id).count() > before:
                event("rerouted elsewhere")

    @rule(i=st.integers(0, 50))
    def cancel(self, i):
        if self.order_ids:
            try:
                order_cancel(order=self.order_ids[i % len(self.order_ids)], actor="customer")
            except IllegalTransition:
                event("cancel refused")
                return
            event("cancelled")

    @rule(i=st.integers(0, 50))
    def cancel_fulfilled(self, i):
        """Try to cancel an order something of which has already been shipped or handed over: the
        customer is told no, and the order, its allocations and the stock stay exactly as they were."""
        done = list(Order.objects.filter(pk__in=self.order_ids, status__in=[
            OrderStatus.FULFILLED, OrderStatus.PARTIALLY_FULFILLED]).order_by("pk").values_list("pk", flat=True))
        if not done:
            return
        pk = done[i % len(done)]

        def snapshot():
            return (Order.objects.get(pk=pk).status,
                    sorted(Allocation.objects.filter(line__order_id=pk).values_list("pk", "status", "quantity")),
                    sorted(StockLevel.objects.filter(product__in=self.products)
                           .values_list("pk", "on_hand", "reserved")),
                    OrderEvent.objects.filter(order_id=pk).count())

        before = snapshot()
        with pytest.raises(IllegalTransition):
            order_cancel(order=pk, actor="customer")
        assert snapshot() == before
        event("cancel refused")

    @invariant()
    def ledger_balanced_and_nothing_oversold(self):
        assert ledger_check() == []
        for lv in StockLevel.objects.filter(product__in=self.products):
            assert 0 <= lv.reserved <= lv.on_hand
        for ln in OrderLine.objects.filter(order_id__in=self.order_ids):
            done = ln.allocations.filter(status__in=[AllocationStatus.RESERVED, AllocationStatus.FULFILLED,
                                                     AllocationStatus.CANCELLED]).aggregate(n=Sum("quantity"))["n"] or 0
            assert done <= ln.quantity

    @invariant()
    def work_follows_the_allocations(self):
        for wl in WorkLine.objects.filter(work__order_id__in=self.order_ids).select_related("work"):
            alloc = Allocation.objects.get(pk=wl.allocation_id)
            held = alloc.quantity if alloc.status == AllocationStatus.RESERVED else 0
            assert wl.open_quantity == held, (wl.pk, wl.open_quantity, alloc.status, alloc.quantity)
            if not wl.work.is_open:
                assert held == 0
        # every reserved allocation is some open work's line
        reserved = set(Allocation.objects.filter(line__order_id__in=self.order_ids, status=AllocationStatus.RESERVED)
                       .values_list("pk", flat=True))
        lined = set(WorkLine.objects.filter(allocation_id__in=reserved, work__status__in=[
            s for s in WorkStatus.values if s not in ("shipped", "collected", "rejected", "cancelled", "expired")])
            .values_list("allocation_id", flat=True))
        assert reserved == lined


@pytest.mark.django_db
def test_fulfillment_state_machine():
    SEEN.clear()
    run_state_machine_as_test(
        FulfillmentMachine,
        settings=settings(max_examples=10, stateful_step_count=50, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
    missing = MUST_HAPPEN - SEEN.keys()
    assert not missing, f"these never happened, so nothing checked them: {sorted(missing)}; seen: {SEEN}"
