"""Each KPI's daily facts, computed from the raw rows: the ledger, cycle counts, orders and their
event timeline, fulfillment work and the sync log. Read-only (a selector module): the snapshot
service stores what these return, the dashboard's baseline (``bench dashboard``) and the tests
compute them straight from the raw rows.

A fact is additive: ``count`` / ``total`` (a numerator and a denominator, or two sums), ``peak``
and a histogram of fixed buckets for durations; so any date range and filter is a sum of facts."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, Min, Sum, Value, When
from django.db.models.functions import TruncDate
from django.db.models.functions import Abs

from allocation.models import Channel, ChannelKind
from allocation.sync.models import SyncMessage
from fulfillment.models import Work, WorkKind, WorkStatus
from inventory.models import Bucket, CycleCount, Location, LocationKind, MovementReason, StockLevel, StockMovement
from orders.models import Allocation, DeliveryMode, LineStatus, LostSale, Order, OrderEvent, OrderLine, OrderStatus
from orders.selectors import lost_sales_not_bought_later

# Cycle-count tolerance by ABC class (percent of the system quantity); variances never netted.
TOLERANCE_PERCENT = {"A": 1, "B": 3, "C": 5}
# Fixed histogram bucket upper edges: minutes (BOPIS preparation) and milliseconds (sync latency).
MINUTE_EDGES = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 1440, 2880, 10080]
MS_EDGES = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000]


@dataclass
class Fact:
    metric: str
    channel_id: int | None = None
    location_id: int | None = None
    count: int = 0
    total: int = 0
    peak: int | None = None
    hist: dict[str, int] | None = None

    def add(self, count: int = 0, total: int = 0) -> None:
        self.count += count
        self.total += total

    def observe(self, value: int, edges: list[int]) -> None:
        """One duration: counted, summed (total), its bucket, and the peak."""
        self.count += 1
        self.total += value
        self.peak = value if self.peak is None else max(self.peak, value)
        self.hist = self.hist or {}
        key = str(bisect.bisect_left(edges, value))
        self.hist[key] = self.hist.get(key, 0) + 1


@dataclass
class DayFacts:
    day: date
    facts: dict[tuple[str, int | None, int | None], Fact] = field(default_factory=dict)

    def get(self, metric: str, channel_id: int | None = None, location_id: int | None = None) -> Fact:
        key = (metric, channel_id, location_id)
        if key not in self.facts:
            self.facts[key] = Fact(metric, channel_id, location_id)
        return self.facts[key]

    def __iter__(self):
        return iter(self.facts.values())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
    return start, start + timedelta(days=1)


def _cents(value: Decimal | None) -> int:
    return int((value or Decimal(0)) * 100)


def facts_for_day(day: date) -> DayFacts:
    """Every KPI's facts for one (UTC) day."""
    return next(facts_for_days([day]))


def facts_for_days(days: list[date]) -> Iterator[DayFacts]:
    """Every KPI's facts for each of these (UTC) days; the stock values of all of them from one pass
    over the ledger."""
    values = inventory_values(days)
    for day in days:
        yield _facts(day, values[day])


def _facts(day: date, values: dict[int, int]) -> DayFacts:
    out = DayFacts(day)
    start, end = day_bounds(day)
    _stock_accuracy(out, start, end)
    _orders_decided(out, start, end)
    _orders_placed(out, start, end)
    _oversold_and_lost(out, start, end)
    lost_sales_facts(out, start, end)
    _bopis(out, start, end)
    _turnover(out, start, end)
    for loc, cents in values.items():
        out.get("inventory_value", None, loc).add(cents, 0)
    _sync_latency(out, start, end)
    return out


# --- stock accuracy ------------------------------------------------------------------------

def _stock_accuracy(out: DayFacts, start: datetime, end: datetime) -> None:
    """Counted records within tolerance of their class / records counted, per location."""
    tol = Case(*(When(stock_level__product__velocity_class=k, then=Value(v)) for k, v in TOLERANCE_PERCENT.items()),
               default=Value(5), output_field=IntegerField())
    rows = (CycleCount.objects.filter(counted_at__gte=start, counted_at__lt=end)
            .annotate(tol=tol, off=Abs(F("variance")))
            .annotate(hit=Case(When(off__lte=F("tol") * F("system_quantity") / 100.0, then=Value(1)), default=Value(0),
                               output_field=IntegerField()))
            .values("stock_level__location_id").annotate(n=Count("id"), hits=Sum("hit")))
    for row in rows:
        out.get("accuracy", None, row["stock_level__location_id"]).add(row["hits"], row["n"])


# --- orders --------------------------------------------------------------------------------

def _primary_locations(order_ids: Iterable[int]) -> dict[int, int]:
    """Each order's first allocation's location: where the order is counted when filtering by location."""
    first = (Allocation.objects.filter(line__order_id__in=list(order_ids)).values("line__order_id")
             .annotate(first=Min("id")))
    ids = {row["first"]: row["line__order_id"] for row in first}
    return {ids[a]: loc for a, loc in Allocation.objects.filter(pk__in=list(ids)).values_list("id", "location_id")}


def _orders_decided(out: DayFacts, start: datetime, end: datetime) -> None:
    """Order, line and unit fill rate over the orders whose fate was decided this day (the last
    line fulfilled, or the order cancelled): filled = fulfilled complete, never backordered, no line
    cancelled, every shipment/pickup on time."""
    decided = dict(OrderEvent.objects.filter(kind="status_changed", created_at__gte=start, created_at__lt=end,
                                             data__to__in=[OrderStatus.FULFILLED, OrderStatus.CANCELLED])
                   .values_list("order_id", "data__to"))
    if not decided:
        return
    channels = dict(Order.objects.filter(pk__in=list(decided)).values_list("id", "channel_id"))
    where = _primary_locations(decided)
    backordered = set(OrderEvent.objects.filter(order_id__in=list(decided), kind="line_backordered")
                      .values_list("order_id", "data__line"))
    late = set(Work.objects.filter(order_id__in=list(decided), on_time=False).values_list("order_id", flat=True))
    lines = defaultdict(list)
    for order_id, line_no, status, qty in OrderLine.objects.filter(order_id__in=list(decided)).values_list(
            "order_id", "line_no", "status", "quantity"):
        lines[order_id].append((line_no, status, qty))
    for order_id, final in decided.items():
        ch, loc = channels[order_id], where.get(order_id)
        ok_lines = [(n, s, q) for n, s, q in lines[order_id] if s == LineStatus.FULFILLED and (order_id, n) not in backordered]
        perfect = (final == OrderStatus.FULFILLED and len(ok_lines) == len(lines[order_id]) and order_id not in late)
        out.get("orders_filled", ch, loc).add(int(perfect), 1)
        out.get("lines_filled", ch, loc).add(len(ok_lines), len(lines[order_id]))
        out.get("units_filled", ch, loc).add(sum(q for _n, _s, q in ok_lines), sum(q for _n, _s, q in lines[order_id]))


def _online_channel_ids() -> set[int]:
    return set(Channel.objects.exclude(kind=ChannelKind.POS).values_list("id", flat=True))


def _orders_placed(out: DayFacts, start: datetime, end: datetime) -> None:
    """Online orders placed this day: shipped from a store, picked up in store (BOPIS), shipped to a
    store for pickup; and the lines placed (the overselling rate's denominator)."""
    orders = dict(Order.objects.filter(created_at__gte=start, created_at__lt=end).values_list("id", "channel_id"))
    if not orders:
        return
    modes = dict(Order.objects.filter(pk__in=list(orders)).values_list("id", "delivery_mode"))
    where = _primary_locations(orders)
    kinds = dict(Location.objects.values_list("id", "kind"))
    store_alloc, to_store = set(), set()
    for order_id, loc, sts in Allocation.objects.filter(line__order_id__in=list(orders)).values_list(
            "line__order_id", "location_id", "ship_to_store_id"):
        if kinds.get(loc) == LocationKind.STORE:
            store_alloc.add(order_id)
        if sts is not None:
            to_store.add(order_id)
    online = _online_channel_ids()
    for order_id, ch in orders.items():
        at = where.get(order_id)
        if ch in online:
            bopis = modes[order_id] == DeliveryMode.BOPIS
            out.get("ship_from_store", ch, at).add(int(not bopis and order_id in store_alloc), 1)
            out.get("bopis_share", ch, at).add(int(bopis and order_id not in to_store), 1)
            out.get("ship_to_store", ch, at).add(int(order_id in to_store), 1)
    for order_id, n in OrderLine.objects.filter(order_id__in=list(orders)).values("order_id").annotate(
            n=Count("id")).values_list("order_id", "n"):
        out.get("oversold_lines", orders[order_id], where.get(order_id)).add(0, n)


def _oversold_and_lost(out: DayFacts, start: datetime, end: datetime) -> None:
    """Oversold: a line a location rejected (short pick, not found) whose re-route found no other
    source this day. Lost demand: units given up that way, and lines cancelled this day after they
    were backordered (units and their value)."""
    codes = dict(Location.objects.values_list("code", "id"))
    # a re-route after a rejection found no stock: the line is backordered, or (when the routing
    # profile says so) its units are cancelled
    backordered = OrderEvent.objects.filter(created_at__gte=start, created_at__lt=end, kind="line_backordered",
                                            data__reason__startswith="reroute").values_list("order_id", "data__line")
    given_up = list(OrderEvent.objects.filter(created_at__gte=start, created_at__lt=end, kind="units_cancelled",
                                              data__reason__startswith="No other location").values_list(
        "order_id", "data__line", "data__quantity"))
    oversold = set(backordered) | {(o, line) for o, line, _q in given_up}
    if oversold:
        channels = dict(Order.objects.filter(pk__in={o for o, _ in oversold}).values_list("id", "channel_id"))
        rejected_at = {(o, line): loc for o, line, loc in OrderEvent.objects.filter(
            order_id__in=list(channels), kind="allocation_rejected").order_by("id").values_list("order_id", "data__line", "data__location")}
        for order_id, line in oversold:
            out.get("oversold_lines", channels[order_id], codes.get(str(rejected_at.get((order_id, line))))).add(1, 0)
    if given_up:
        channels = dict(Order.objects.filter(pk__in={o for o, _l, _q in given_up}).values_list("id", "channel_id"))
        where = _primary_locations(channels)
        prices = {(o, n): p for o, n, p in OrderLine.objects.filter(order_id__in=list(channels)).values_list(
            "order_id", "line_no", "unit_price")}
        for order_id, line, qty in given_up:
            units = int(qty or 0)
            out.get("lost_demand", channels[order_id], where.get(order_id)).add(units, _cents(prices.get((order_id, line), Decimal(0)) * units))
    cancelled = set(OrderEvent.objects.filter(created_at__gte=start, created_at__lt=end, kind="line_cancelled").values_list(
        "order_id", "data__line"))
    if not cancelled:
        return
    order_ids = {o for o, _ in cancelled}
    short = set(OrderEvent.objects.filter(order_id__in=order_ids, kind="line_backordered", created_at__lt=end)
                .values_list("order_id", "data__line"))
    channels = dict(Order.objects.filter(pk__in=order_ids).values_list("id", "channel_id"))
    where = _primary_locations(order_ids)
    for order_id, line_no, qty, price in OrderLine.objects.filter(order_id__in=order_ids).values_list(
            "order_id", "line_no", "quantity", "unit_price"):
        if (order_id, line_no) in cancelled and (order_id, line_no) in short:
            out.get("lost_demand", channels[order_id], where.get(order_id)).add(qty, _cents(price * qty))


def lost_sales_facts(out: DayFacts, start: datetime, end: datetime) -> None:
    """Demand refused this day (``orders.LostSale``: intake without ATP, quotas, lost scarce SKUs,
    units given up after a rejection; not what the customer bought after all under the same order
    number, ``orders.selectors.lost_sales_not_bought_later``), per channel: ``lost_sales_units`` counts the units the pool
    held elsewhere (count) among all refused units (total); ``lost_sales_value`` the same in cents."""
    rows = (lost_sales_not_bought_later(LostSale.objects.filter(created_at__gte=start, created_at__lt=end))
            .values_list("channel_id", "quantity", "unit_price", "pool_could_cover"))
    for ch, qty, price, covered in rows:
        cents = _cents(price * qty)
        out.get("lost_sales_units", ch, None).add(qty if covered else 0, qty)
        out.get("lost_sales_value", ch, None).add(cents if covered else 0, cents)


# --- BOPIS ---------------------------------------------------------------------------------

_PICKUP_KINDS = (WorkKind.BOPIS, WorkKind.SHIP_TO_STORE)


def _bopis(out: DayFacts, start: datetime, end: datetime) -> None:
    """Placed → ready (minutes) of pickups ready this day; ready → handed over of pickups collected
    this day; pickups never collected (expired) among those closed this day. Per pickup store."""
    ready = Work.objects.filter(kind__in=_PICKUP_KINDS, ready_at__gte=start, ready_at__lt=end).values_list(
        "order__channel_id", "pickup_location_id", "location_id", "order__created_at", "ready_at")
    for ch, pickup, loc, placed, ready_at in ready:
        assert ready_at is not None  # filtered on it
        out.get("bopis_ready_minutes", ch, pickup or loc).observe(max(int((ready_at - placed).total_seconds() // 60), 0), MINUTE_EDGES)
    closed = Work.objects.filter(kind__in=_PICKUP_KINDS, closed_at__gte=start, closed_at__lt=end,
                                 status__in=[WorkStatus.COLLECTED, WorkStatus.EXPIRED]).values_list(
        "order__channel_id", "pickup_location_id", "location_id", "status", "ready_at", "closed_at")
    for ch, pickup, loc, status, ready_at, closed_at in closed:
        where = pickup or loc
        out.get("bopis_uncollected", ch, where).add(int(status == WorkStatus.EXPIRED), 1)
        if status == WorkStatus.COLLECTED and ready_at is not None and closed_at is not None:
            out.get("bopis_handover_minutes", ch, where).observe(max(int((closed_at - ready_at).total_seconds() // 60), 0), MINUTE_EDGES)


# --- inventory turnover ----------------------------------------------------------------------

def _turnover(out: DayFacts, start: datetime, end: datetime) -> None:
    """Cost of goods sold this day (sales and order fulfilment, at unit cost, in cents) per location
    and channel; on-hand value at cost at the end of the day per location (today's on hand less
    every ledger movement after the day)."""
    channel_by_code = dict(Channel.objects.values_list("code", "id"))
    cost = F("stock_level__product__unit_cost")
    sold = (StockMovement.objects.filter(created_at__gte=start, created_at__lt=end, bucket=Bucket.ON_HAND,
                                         reason__in=[MovementReason.SALE, MovementReason.FULFILMENT])
            .values("stock_level__location_id", "source").annotate(value=Sum(-F("quantity") * cost)))
    for row in sold:
        out.get("cogs", channel_by_code.get(row["source"]), row["stock_level__location_id"]).add(_cents(row["value"]), 0)


def inventory_values(days: list[date]) -> dict[date, dict[int, int]]:
    """On-hand value at cost (cents) per location at the end of each day: today's on hand less every
    ledger movement after that day (one grouped pass over the ledger since the first day)."""
    if not days:
        return {}
    now_value = {loc: _cents(v) for loc, v in StockLevel.objects.values("location_id").annotate(
        v=Sum(F("on_hand") * F("product__unit_cost"))).values_list("location_id", "v")}
    net: dict[date, dict[int, int]] = defaultdict(dict)
    for loc, d, v in (StockMovement.objects.filter(created_at__gte=day_bounds(min(days))[1], bucket=Bucket.ON_HAND)
                      .annotate(d=TruncDate("created_at", tzinfo=dt_timezone.utc)).values("stock_level__location_id", "d")
                      .annotate(v=Sum(F("quantity") * F("stock_level__product__unit_cost")))
                      .values_list("stock_level__location_id", "d", "v")):
        net[d][loc] = _cents(v)
    out = {}
    later = sorted(net, reverse=True)
    running = dict(now_value)  # value at the end of the newest day so far: walk back from today
    wanted = sorted(set(days), reverse=True)
    i = 0
    for day in wanted:
        while i < len(later) and later[i] > day:
            for loc, v in net[later[i]].items():
                running[loc] = running.get(loc, 0) - v
            i += 1
        out[day] = dict(running)
    return out


# --- sync latency --------------------------------------------------------------------------

def _sync_latency(out: DayFacts, start: datetime, end: datetime) -> None:
    """Committed stock change → channel acknowledgement (ms) of pushes acknowledged this day."""
    for ch, ms in SyncMessage.objects.filter(acked_at__gte=start, acked_at__lt=end, latency_ms__isnull=False).values_list(
            "channel_id", "latency_ms").iterator(chunk_size=5000):
        out.get("sync_latency_ms", ch, None).observe(ms or 0, MS_EDGES)
