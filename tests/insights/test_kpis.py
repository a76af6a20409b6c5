"""Each KPI computed on a small hand-built history (real services: orders placed, shipped, picked
up, cancelled, rejected; counts; pushes acknowledged), checked against figures worked out by hand;
and the daily snapshot gives exactly what the raw rows give."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from allocation.sync.models import MessageStatus, SyncMessage
from fulfillment.models import Work
from fulfillment.services import Verification, hand_over, mark_ready, pack, pick, ship, start_picking
from inventory.models import VelocityClass
from inventory.services import cycle_count_record
from omni.insights.dashboard import Filters, dashboard_from_raw, dashboard_from_snapshots
from omni.insights.facts import facts_for_day
from omni.insights.models import KpiFact
from omni.insights.services import kpi_snapshot_day
from orders.models import Allocation
from orders.services import allocation_reject, order_cancel, order_line_cancel
from tests.fulfillment.factories import place, place_bopis, receive

pytestmark = pytest.mark.django_db


def _ship(work: Work) -> None:
    start_picking(work=work, actor="alice")
    for line in work.lines.all():
        if line.quantity - line.cancelled:
            pick(work=work, line=line, qty=line.quantity - line.cancelled, actor="alice")
    pack(work=work, box_type="S", actor="alice")
    ship(work=work, tracking_number="TRK-1", carrier="dhl", actor="alice")


def _history(world) -> None:
    """Five web orders at the Istanbul store, three cycle counts, three acknowledged pushes."""
    for product, cls in ((world.shirt, VelocityClass.A), (world.mug, VelocityClass.A), (world.cap, VelocityClass.C)):
        product.velocity_class = cls
        product.save(update_fields=["velocity_class"])
    receive(world.shirt, world.ist, 100)
    receive(world.mug, world.ist, 100)
    # accuracy at ST-IST: A 100 → 99 (1 %, within ±1 %), A 100 → 97 (3 %, outside ±1 %), C 0 → 0 (exact) = 2 / 3
    cycle_count_record(product=world.shirt, location=world.ist, counted=99)
    cycle_count_record(product=world.mug, location=world.ist, counted=97)
    cycle_count_record(product=world.cap, location=world.ist, counted=0)
    # O1: one line shipped complete and on time: filled
    _ship(place(world, "O1", ("SHIRT", 2)))
    # O2: two lines, one cancelled, the other shipped: decided (fulfilled), not filled; lines 1 / 2
    w2 = place(world, "O2", ("SHIRT", 1), ("MUG", 1))
    order_line_cancel(order=w2.order, line_no=2, actor="mira", reason="customer changed mind")
    _ship(Work.objects.get(pk=w2.pk))
    # O3: cancelled whole: decided, not filled; lines 0 / 1
    order_cancel(order=place(world, "O3", ("MUG", 1)).order, actor="mira")
    # O4: the store cannot find the cap (only 1 on record, none anywhere else): oversold, then cancelled: 1 unit lost
    receive(world.cap, world.ist, 1)
    w4 = place(world, "O4", ("CAP", 1))
    allocation_reject(allocation=Allocation.objects.get(line__order=w4.order), reason="not found")
    order_cancel(order=w4.order, actor="mira")
    # O5: BOPIS at the store, ready and collected
    w5 = place_bopis(world, "O5", ("SHIRT", 1))
    start_picking(work=w5, actor="alice")
    pick(work=w5, line=w5.lines.get(), qty=1, actor="alice")
    mark_ready(work=w5, actor="alice")
    hand_over(work=w5, verification=Verification(collector_name="Ayşe"), actor="alice")
    # three pushes to the web shop acknowledged after 1 s, 2 s and 400 s
    now = timezone.now()
    for seq, ms in enumerate((1000, 2000, 400_000), start=1):
        SyncMessage.objects.create(channel=world.web, product=world.shirt, sequence=seq, available=1, changed_at=now,
                                   status=MessageStatus.SENT, acked_at=now, latency_ms=ms)


def test_each_kpi_on_a_hand_built_day(world):
    _history(world)
    today = timezone.now().date()
    board = dashboard_from_raw(Filters(start=today, end=today))
    k = {fig.spec.code: fig for fig in board.kpis}
    details = {code: dict(fig.details) for code, fig in k.items()}

    assert k["accuracy"].display == "66.7 %"  # 2 of 3 counted records within their class's tolerance
    assert details["accuracy"] == {"records counted": "3", "within tolerance": "2"}
    assert k["fill_rate"].display == "40.0 %"  # O1 and O5 of the five decided (O2 lost a line, O3 and O4 cancelled)
    assert details["fill_rate"]["orders decided"] == "5"
    assert details["fill_rate"]["line fill rate"] == "50.0 %"  # O1 1/1, O2 1/2, O3 0/1, O4 0/1, O5 1/1 = 3 / 6
    assert details["fill_rate"]["unit fill rate"] == "57.1 %"  # 4 of 7 units (2/2, 1/2, 0/1, 0/1, 1/1)
    assert details["overselling"] == {"lines placed": "6", "lines oversold": "1"}  # the cap no one else had
    assert k["overselling"].display == "16.7 %"
    assert k["ship_from_store"].display == "80.0 %"  # 4 of 5 online orders shipped from the store; O5 is BOPIS
    assert details["ship_from_store"]["BOPIS"] == "20.0 %" and details["ship_from_store"]["ship-to-store"] == "0.0 %"
    assert details["bopis_prep"]["pickups ready"] == "1" and details["bopis_prep"]["never collected"] == "0.0 %"
    assert k["bopis_prep"].value is not None and k["bopis_prep"].value < 5  # minutes: ready within the test
    # cost of goods sold: O1 2 + O2 1 + O5 1 units at 10.00 = 40.00
    assert board.totals["cogs"].count == 4000
    # drift now: web last acknowledged 1 shirt; Omni would publish 94 (100 received, 6 gone or reserved)
    assert details["sync_latency"] == {"p50": "2.0 s", "p95": "10.0 min", "max": "6.7 min", "pushes": "3",
                                       "SKUs drifting now": "1 of 1", "largest drift now": "94 units (web, SHIRT)"}
    # nothing refused at intake nor given up (O4's cap was backordered, then cancelled: beside it)
    assert k["lost_demand"].display == "0 units"
    assert details["lost_demand"] == {"held elsewhere in the pool": "0 units", "value refused": "0", "value held elsewhere": "0",
                                      "today so far (live)": "0 units, 0 held elsewhere", "cancelled after a backorder": "1 units"}


def test_the_snapshot_gives_what_the_raw_rows_give_and_filters_narrow_it(world):
    _history(world)
    today = timezone.now().date()
    assert kpi_snapshot_day(day=today) == len(list(facts_for_day(today)))
    assert kpi_snapshot_day(day=today) == KpiFact.objects.filter(day=today).count()  # replaced, not added twice
    for filters in (Filters(start=today, end=today), Filters(start=today - timedelta(days=6), end=today),
                    Filters(start=today, end=today, channel_id=world.web.pk),
                    Filters(start=today, end=today, location_id=world.izm.pk),
                    Filters(start=today, end=today, location_kind="warehouse")):
        raw = [(f.spec.code, f.display, f.details) for f in dashboard_from_raw(filters).kpis]
        snap = [(f.spec.code, f.display, f.details) for f in dashboard_from_snapshots(filters).kpis]
        assert snap == raw, filters
    at_izmir = {f.spec.code: f.display for f in dashboard_from_snapshots(Filters(start=today, end=today, location_id=world.izm.pk)).kpis}
    assert at_izmir["accuracy"] == "—" and at_izmir["fill_rate"] == "—"  # nothing happened in Izmir
    assert Decimal(KpiFact.objects.filter(metric="cogs").values_list("count", flat=True).get()) == 4000


def test_a_store_rejection_that_no_other_location_can_take_counts_as_oversold(world):
    """Through the store app's own service: the Izmir store cannot find the mug, nobody else has one."""
    from fulfillment.models import RejectReason
    from fulfillment.services import reject

    receive(world.mug, world.izm, 1)
    work = place(world, "R-1", ("MUG", 1), lat=38.4, lon=27.1)
    assert work.location == world.izm
    reject(work=work, quantities={work.lines.get().pk: (1, RejectReason.NOT_FOUND)}, actor="alice")
    today = timezone.now().date()
    figures = {f.spec.code: dict(f.details) for f in dashboard_from_raw(Filters(start=today, end=today)).kpis}
    assert figures["overselling"] == {"lines placed": "1", "lines oversold": "1"}
    at_izmir = {f.spec.code: dict(f.details) for f in dashboard_from_raw(
        Filters(start=today, end=today, location_id=world.izm.pk)).kpis}
    assert at_izmir["overselling"]["lines oversold"] == "1"  # counted where the rejection happened


def _refuse(world, external_id: str, *lines) -> None:
    from omni.errors import InsufficientStock
    from orders.services import order_create
    from tests.orders.factories import order_input

    with pytest.raises(InsufficientStock):
        order_create(channel=world.web, data=order_input(external_id, *lines))


def test_lost_sales_on_a_hand_built_history_held_elsewhere_and_in_total(world):
    """Refused: 3 shirts the pool held at a store web does not sell from, 2 mugs nobody had, and one
    cap a store rejected with no other source (its routing profile gives such units up)."""
    from tests.orders.factories import LocationFactory, RoutingProfileFactory

    hidden = LocationFactory(code="ST-HIDDEN")
    receive(world.shirt, hidden, 10)
    _refuse(world, "L1", ("SHIRT", 3))  # 3 × 10.00, held elsewhere
    _refuse(world, "L2", ("MUG", 2))  # 2 × 10.00, nowhere
    RoutingProfileFactory(name="give-up", channel=world.web, reroute_shortage="cancel")
    receive(world.cap, world.ist, 1)
    w = place(world, "L3", ("CAP", 1))
    allocation_reject(allocation=Allocation.objects.get(line__order=w.order), reason="not found")  # 1 × 10.00, given up
    today = timezone.now().date()
    filters = Filters(start=today, end=today)
    raw = {f.spec.code: f for f in dashboard_from_raw(filters).kpis}["lost_demand"]
    assert raw.display == "6 units"
    details = dict(raw.details)
    # the cap was still on the books at IST when given up: the pool "held" it (not yet written off)
    assert details["held elsewhere in the pool"] == "4 units"
    assert (details["value refused"], details["value held elsewhere"]) == ("60", "40")
    assert details["today so far (live)"] == "6 units, 4 held elsewhere"
    kpi_snapshot_day(day=today)
    snap = {f.spec.code: f for f in dashboard_from_snapshots(filters).kpis}["lost_demand"]
    assert (snap.display, snap.details) == (raw.display, raw.details)
    assert dict(snap.series)[today] == 6.0
    other = {f.spec.code: f for f in dashboard_from_snapshots(Filters(start=today, end=today, channel_id=world.market.pk)).kpis}
    assert other["lost_demand"].display == "0 units"  # the market channel refused nothing


def test_sync_drift_counts_the_skus_whose_acknowledged_figure_differs_from_omnis_now(world):
    """web acknowledged shirt 5 then 7 (Omni now: 7, no drift), mug 3 (Omni now: 10, drift 7),
    cap 0 (Omni now: 0). market acknowledged nothing (feed only): not counted."""
    from omni.insights.live import sync_drift

    receive(world.shirt, world.ist, 7)
    receive(world.mug, world.ist, 10)
    now = timezone.now()
    for seq, (product, figure) in enumerate(((world.shirt, 5), (world.shirt, 7), (world.mug, 3), (world.cap, 0)), start=1):
        SyncMessage.objects.create(channel=world.web, product=product, sequence=seq, available=figure, changed_at=now,
                                   status=MessageStatus.SENT, acked_at=now, latency_ms=1000)
    SyncMessage.objects.create(channel=world.web, product=world.cap, sequence=9, available=4, changed_at=now,
                               status=MessageStatus.PENDING)  # not acknowledged: the channel still shows 0
    SyncMessage.objects.create(channel=world.market, product=world.mug, sequence=1, available=1, changed_at=now,
                               status=MessageStatus.FEED)
    drift = {d.code: (d.skus, d.drifting, d.max_drift, d.max_sku) for d in sync_drift()}
    assert drift == {"market": (0, 0, 0, ""), "web": (3, 1, 7, "MUG")}
    today = timezone.now().date()
    k = {f.spec.code: dict(f.details) for f in dashboard_from_raw(Filters(start=today, end=today)).kpis}
    assert (k["sync_latency"]["SKUs drifting now"], k["sync_latency"]["largest drift now"]) == ("1 of 3", "7 units (web, MUG)")
    market_only = {f.spec.code: dict(f.details) for f in dashboard_from_raw(
        Filters(start=today, end=today, channel_id=world.market.pk)).kpis}
    assert market_only["sync_latency"]["SKUs drifting now"] == "0 of 0"
