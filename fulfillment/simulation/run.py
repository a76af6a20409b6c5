"""One policy's season, in the current (scratch) database, through Omni's real services.

The clock is simulated (``time_machine``): every ledger row, order, allocation and fulfillment
event carries the simulated time, so routing's stock age, the safety-stock windows and the KPIs
read the season as it happened. What is batched because it is not the point of the test: walk-in
(POS) sales are one sale movement per store × SKU × day, and the chain, catalogue and season's
buy are set up once through the services before day 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import time_machine
from django.db.models import Sum

from allocation.channels.services import channel_visibility_add
from allocation.models import Channel, ChannelKind, SyncMode
from allocation.safety_stock.services import safety_stock_policies_set_at_locations, safety_stock_recompute
from allocation.selectors import atp_for_channel
from fulfillment.models import Work, WorkKind, WorkStatus
from fulfillment import services as fs
from fulfillment.services.choices import choices_expire
from inventory.models import Location, LocationKind, Product, StockLevel
from inventory.services import cycle_count_record, stock_receive, stock_sell, transfer_receive, transfer_ship
from omni.errors import InsufficientStock, OmniError
from orders.models import DeliveryMode, LineStatus, Order
from orders.services import (
    LineInput,
    OrderInput,
    ReturnItem,
    allocation_cancel,
    lost_sales_deferred,
    lost_sales_write,
    order_create,
    order_lines_cancel,
    order_return,
    routing_profile_save,
)

from .chain import STORE_CAPACITY, TRANSIT_DAYS, chain_create
from .scenario import DC_RESERVE, OnlineOrder, Scenario

ACTOR = "simulation"
POLICIES = ("siloed", "omni")
COVER_DAYS = 7  # a store's replenishment target: a week of its expected walk-in demand
PICKUP_AFTER_DAYS = 1
EXPIRE_AFTER_DAYS = 3
PROTECT_WALK_IN = 1  # units of every A SKU at a store that online orders may not take (a location floor)
OMNI_PROFILE = [
    {"name": "stock_status", "weight": 3.0}, {"name": "fewest_splits", "weight": 2.0}, {"name": "proximity", "weight": 1.5},
    {"name": "cost", "weight": 1.5}, {"name": "capacity", "weight": 1.0}, {"name": "stock_priority", "weight": 1.5},
]


@dataclass
class RunLog:
    """What the run saw that the database cannot tell: demand that never became an order."""

    policy: str
    digest: str
    walk_in_demand: int = 0
    walk_in_sold: int = 0
    walk_in_lost: int = 0
    walk_in_lost_pool_had: int = 0  # … while the chain held the SKU elsewhere
    online_demand_units: int = 0
    online_refused_units: int = 0  # the channel showed nothing to sell (or intake refused it at once)
    online_refused_pool_had: int = 0
    oversold_orders: int = 0  # accepted by the channel on its (lagging) figure, refused by Omni
    oversold_units: int = 0
    bopis_wanted: int = 0
    bopis_as_delivery: int = 0  # the customer wanted to collect, the policy could only deliver
    cross_sell_wishes: int = 0
    cross_sell_sold: int = 0
    store_rejections: int = 0
    lost_margin: float = 0.0  # (price − cost) of every unit demanded and not sold
    markdown_units: int = 0  # units sold at the end-of-season price
    markdown_revenue_lost: float = 0.0
    daily: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _at(sc: Scenario, day: int, hour: float) -> datetime:
    d = date.fromisoformat(sc.start) + timedelta(days=day)
    return datetime.combine(d, time(0), tzinfo=dt_timezone.utc) + timedelta(hours=hour)


class Season:
    def __init__(self, sc: Scenario, policy: str, progress: Callable[[int, int], None] | None = None):
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}")
        self.sc, self.policy, self.omni = sc, policy, policy == "omni"
        self.progress = progress or (lambda _d, _n: None)
        self.log = RunLog(policy=policy, digest=sc.digest())
        self.phantom: dict[tuple[int, int], int] = {}  # (store, sku) → system − physical units
        self.in_transit: list[tuple[int, int, int, int, int]] = []  # (arrive day, transfer id, store, sku, qty)
        self.pickups: list[tuple[int, int, bool, int | None]] = []  # (due day, work id, no-show, cross-sell sku)
        self.returns: list[tuple[int, int, int]] = []  # (due day, order id, store index or -1 for the DC)
        self.order_meta: dict[int, tuple[int, OnlineOrder | None]] = {}  # order id → (day, its scenario order)
        self.returning: set[int] = set()  # orders whose return is scheduled

    # ---------------------------------------------------------------- set-up
    def setup(self) -> None:
        self.dc, self.stores, self.products, self.channels = chain_create(self.sc, omni=self.omni)
        if self.omni:
            routing_profile_save(name="simulation", criteria=OMNI_PROFILE, max_shipments=2, allow_ship_to_store=False)
        self._initial_stock()

    def _initial_stock(self) -> None:
        """The same season's buy for both policies, placed as each policy would: a DC reserve for
        replenishment, the rest where each policy expects to sell it (siloed: stores ∝ walk-in,
        DC ∝ online; omni: stores also ∝ the pickups their area will ask for)."""
        sc = self.sc
        n_s = len(sc.stores)
        walk = [[sc.store_rates[s][k] for k in range(len(sc.skus))] for s in range(n_s)]
        bopis_units = [[0.0] * len(sc.skus) for _ in range(n_s)]
        online_units = [0.0] * len(sc.skus)
        for day in sc.online:
            for o in day:
                for k in o.lines:
                    online_units[k] += 1
                    if self.omni and o.bopis_store is not None:
                        bopis_units[o.bopis_store][k] += 1
        days_weight = sum(sc.demand_multiplier(d) for d in range(sc.days))
        for k, product in enumerate(self.products):
            share = sc.buy[k] * (1 - DC_RESERVE)
            store_need = [walk[s][k] * days_weight + bopis_units[s][k] for s in range(n_s)]
            dc_need = online_units[k] - sum(bopis_units[s][k] for s in range(n_s))
            total = sum(store_need) + max(dc_need, 0.0)
            placed = 0
            for s, need in enumerate(store_need):
                qty = int(share * need / total) if total else 0
                if qty:
                    stock_receive(product=product, location=self.stores[s], quantity=qty, source="simulation", reference="season buy")
                    placed += qty
            stock_receive(product=product, location=self.dc, quantity=sc.buy[k] - placed, source="simulation", reference="season buy")
            if sc.skus[k].velocity == "A":  # walk-in protection: a floor online orders cannot take (both policies)
                safety_stock_policies_set_at_locations(product=product, locations=list(self.stores), quantity=PROTECT_WALK_IN)
        on_hand = self._store_levels()
        for s, k, err in sc.record_errors:
            system = on_hand.get((s, k), (0, 0))[0]
            self.phantom[(s, k)] = min(err, system)  # the physical count is never below zero

    # ---------------------------------------------------------------- helpers
    def _store_levels(self) -> dict[tuple[int, int], tuple[int, int]]:
        """(store, sku) → (on hand, reserved) in the system."""
        store_idx = {st.pk: i for i, st in enumerate(self.stores)}
        sku_idx = {p.pk: i for i, p in enumerate(self.products)}
        rows = StockLevel.objects.filter(location_id__in=store_idx).values_list("location_id", "product_id", "on_hand", "reserved")
        return {(store_idx[loc], sku_idx[pid]): (oh, rs) for loc, pid, oh, rs in rows}

    def _free_elsewhere(self) -> dict[int, int]:
        """SKU index → unreserved units anywhere in the chain (the pool)."""
        sku_idx = {p.pk: i for i, p in enumerate(self.products)}
        rows = StockLevel.objects.values("product_id").annotate(n=Sum("on_hand") - Sum("reserved")).values_list("product_id", "n")
        return {sku_idx[pid]: n for pid, n in rows if pid in sku_idx}

    def _level(self, product: Product, location: Location) -> tuple[int, int]:
        row = StockLevel.objects.filter(product=product, location=location).values_list("on_hand", "reserved").first()
        return row or (0, 0)

    # ---------------------------------------------------------------- the season
    def run(self) -> RunLog:
        sc = self.sc
        with time_machine.travel(_at(sc, 0, 6), tick=False) as clock:
            self.clock = clock
            self.setup()
            for day in range(sc.days):
                self.day(day)
                self.progress(day + 1, sc.days)
            # Questions still open when the season ends get no answer either: the channel's rule.
            choices_expire(now=_at(self.sc, sc.days, 0) + timedelta(days=30))
            self._settle_backorders()
        return self.log

    def day(self, day: int) -> None:
        self.clock.move_to(_at(self.sc, day, 8))
        # A pickup a store could not supply asks its customer (another store, delivery or cancel);
        # the simulated customer does not answer — the conservative assumption, the same as before
        # the question existed — so after the channel's time to answer the channel's shortage rule
        # backorders the units and ``_settle_backorders`` cancels them as oversold.
        choices_expire()
        self._arrivals(day)
        self._returns(day)
        self._online(day)
        self.clock.move_to(_at(self.sc, day, 16))
        self._fulfil(day)
        self._pickups(day)
        self.clock.move_to(_at(self.sc, day, 19))
        self._walk_in(day)
        self.clock.move_to(_at(self.sc, day, 21))
        self._replenish(day)
        if day % 7 == 6:
            safety_stock_recompute(today=_at(self.sc, day, 21).date())
        self._snapshot(day)

    def _arrivals(self, day: int) -> None:
        due = [t for t in self.in_transit if t[0] <= day]
        self.in_transit = [t for t in self.in_transit if t[0] > day]
        for _d, transfer_id, _s, _k, _q in due:
            transfer_receive(transfer=transfer_id, source="simulation")

    def _returns(self, day: int) -> None:
        due = [r for r in self.returns if r[0] <= day]
        self.returns = [r for r in self.returns if r[0] > day]
        for _d, order_id, where in due:
            order = Order.objects.get(pk=order_id)
            items = [ReturnItem(line_no=ln.line_no, quantity=1) for ln in order.lines.all()
                     if ln.status == LineStatus.FULFILLED and ln.quantity_returned == 0]
            if items:
                location = self.dc if where < 0 else self.stores[where]
                order_return(order=order, items=items, location=location, actor=ACTOR, reason="simulated return")

    def _online(self, day: int) -> None:
        sc, log = self.sc, self.log
        todays = sc.online[day]
        view: dict[str, dict[int, int]] = {}
        if not self.omni:  # the shops' figures from last night's batch sync
            ids = [p.pk for p in self.products]
            view = {code: atp_for_channel(channel=ch, product_ids=ids) for code, ch in self.channels.items() if code != "pos"}
        free = None
        for i, o in enumerate(todays):
            self.clock.move_to(_at(sc, day, 8 + 8 * i / max(len(todays), 1)))
            log.online_demand_units += len(o.lines)
            bopis = o.bopis_store is not None
            log.bopis_wanted += bopis
            if bopis and not self.omni:
                log.bopis_as_delivery += 1
                bopis = False
            lines = [LineInput(sku=sc.skus[k].sku, quantity=1, unit_price=f"{sc.price(k, day):.2f}") for k in o.lines]
            shown = True
            if view:
                shop = view[o.channel]
                shown = all(shop.get(self.products[k].pk, 0) >= 1 for k in o.lines)
                if shown:
                    for k in o.lines:
                        shop[self.products[k].pk] -= 1
            if not shown:
                log.online_refused_units += len(o.lines)
                log.lost_margin += self._margin(o.lines, day)
                free = free if free is not None else self._free_elsewhere()
                log.online_refused_pool_had += sum(1 for k in o.lines if free.get(k, 0) > 0)
                continue
            pickup = self.stores[o.bopis_store].code if bopis and o.bopis_store is not None else ""
            data = OrderInput(external_id=o.ref, lines=lines, latitude=o.lat, longitude=o.lon,
                              delivery_mode=DeliveryMode.BOPIS if pickup else DeliveryMode.STANDARD, pickup_location=pickup)
            order: Order | None = None
            try:
                with lost_sales_deferred():  # a refused pickup is not lost yet: the customer may take delivery
                    order = order_create(channel=self.channels[o.channel], data=data, actor=ACTOR)
            except InsufficientStock as refused:
                if pickup:  # the chosen store lacks it: the customer takes delivery instead
                    data = OrderInput(external_id=o.ref, lines=lines, latitude=o.lat, longitude=o.lon)
                    try:
                        order = order_create(channel=self.channels[o.channel], data=data, actor=ACTOR)
                    except InsufficientStock:  # refused again: that refusal is the lost sale (written by intake)
                        order = None
                else:
                    lost_sales_write(refused)
            if order is None:
                log.lost_margin += self._margin(o.lines, day)
                if view:  # the shop sold it on last night's figure: an oversell
                    log.oversold_orders += 1
                    log.oversold_units += len(o.lines)
                else:
                    log.online_refused_units += len(o.lines)
                    free = self._free_elsewhere()
                    log.online_refused_pool_had += sum(1 for k in o.lines if free.get(k, 0) > 0)
                continue
            self.order_meta[order.pk] = (day, o)
            if day >= sc.end_of_season_day:
                log.markdown_units += len(o.lines)
                log.markdown_revenue_lost += sum(sc.skus[k].price - sc.price(k, day) for k in o.lines)

    def _margin(self, skus, day: int) -> float:
        return sum(self.sc.price(k, day) - self.sc.skus[k].cost for k in skus)

    def _fulfil(self, day: int) -> None:
        """Every new work of the day: stores find (or not) the units their records promise."""
        store_idx = {st.pk: i for i, st in enumerate(self.stores)}
        sku_idx = {p.pk: i for i, p in enumerate(self.products)}
        for _round in range(3):
            works = list(Work.objects.filter(status=WorkStatus.NEW).order_by("pk").prefetch_related("lines"))
            if not works:
                break
            for work in works:
                s = store_idx.get(work.location_id)
                lines = list(work.lines.all())
                rejected = False
                for line in lines:
                    if s is None or line.to_pick <= 0:
                        continue
                    k = sku_idx[line.product_id]
                    on_hand, reserved = self._level(self.products[k], self.stores[s])
                    physical = on_hand - self.phantom.get((s, k), 0)
                    # the units of this line and of every other open reservation must be on the shelf
                    if physical < line.to_pick + max(reserved - line.to_pick, 0):
                        self._reject(work, line, s, k)
                        rejected = True
                if rejected:
                    work.refresh_from_db()
                    if not work.is_open:
                        continue
                    lines = list(work.lines.all())
                self._prepare(work, day, lines)
        self._settle_backorders()

    def _reject(self, work: Work, line, s: int, k: int) -> None:
        """Not found on the shelf: rejected with that reason (re-routed by Omni), and the record
        corrected by a count of what is really there."""
        self.log.store_rejections += 1
        before, _reserved = self._level(self.products[k], self.stores[s])
        physical = max(before - self.phantom.get((s, k), 0), 0)
        # Omni writes the units off, re-routes the line and asks for a count of the SKU here.
        fs.reject(work=work.pk, quantities={line.pk: (line.to_pick, "not_found")}, actor=ACTOR)
        # The store counts at once: the record becomes what is on the shelf (never below what the
        # other open orders hold, which will be rejected in their turn if it is not there).
        on_hand, reserved = self._level(self.products[k], self.stores[s])
        counted = max(physical, reserved)
        if counted != on_hand:
            cycle_count_record(product=self.products[k], location=self.stores[s], counted=counted, source="simulation")
        self.phantom[(s, k)] = counted - physical

    def _prepare(self, work: Work, day: int, all_lines: list) -> None:
        lines = [ln for ln in all_lines if ln.to_pick > 0]
        if not lines:
            return
        for ln in lines:
            fs.pick(work=work.pk, line=ln.pk, qty=ln.to_pick, actor=ACTOR)
        if work.kind in (WorkKind.BOPIS,):
            fs.mark_ready(work=work.pk, actor=ACTOR)
            _d, o = self.order_meta.get(work.order_id, (day, None))
            no_show = bool(o and o.no_show)
            due = day + (EXPIRE_AFTER_DAYS if no_show else PICKUP_AFTER_DAYS)
            self.pickups.append((due, work.pk, no_show, getattr(o, "cross_sell", None)))
            return
        fs.pack(work=work.pk, box_type="parcel", actor=ACTOR)
        fs.ship(work=work.pk, tracking_number=f"SIM{work.pk:08d}", carrier="sim", actor=ACTOR)
        _d, o = self.order_meta.get(work.order_id, (day, None))
        if o is not None and o.returns and work.kind != WorkKind.BOPIS and work.order_id not in self.returning:
            self.returning.add(work.order_id)  # once per order, however many parcels it came in
            where = self.sc.nearest_store(o.lat, o.lon)[0] if self.omni else -1
            self.returns.append((day + 5, work.order_id, where))

    def _settle_backorders(self) -> None:
        """A line that a store rejected and no other location can serve is cancelled: the order
        was oversold."""
        for order_id, line_nos in _backordered_lines():
            order_lines_cancel(order=order_id, line_nos=line_nos, actor=ACTOR, reason="no stock after a store rejection")

    def _pickups(self, day: int) -> None:
        due = [p for p in self.pickups if p[0] <= day]
        self.pickups = [p for p in self.pickups if p[0] > day]
        store_idx = {st.pk: i for i, st in enumerate(self.stores)}
        for _d, work_id, no_show, cross_sell in due:
            work = Work.objects.get(pk=work_id)
            if work.status != WorkStatus.READY_FOR_PICKUP:
                continue
            if no_show:
                for ln in work.lines.all():
                    if ln.ready_quantity:
                        allocation_cancel(allocation=ln.allocation_id, quantity=ln.ready_quantity, reason="not collected",
                                          actor=ACTOR)
                continue
            fs.hand_over(work=work_id, verification=fs.Verification(collector_name="Customer", id_kind="card"), actor=ACTOR)
            if cross_sell is not None:
                self.log.cross_sell_wishes += 1
                s = store_idx[work.location_id]
                on_hand, reserved = self._level(self.products[cross_sell], self.stores[s])
                if min(on_hand - reserved, on_hand - reserved - self.phantom.get((s, cross_sell), 0)) >= 1:
                    stock_sell(product=self.products[cross_sell], location=self.stores[s], quantity=1, source="pos",
                               reference=f"cross-sell:{work.order_id}")
                    self.log.cross_sell_sold += 1

    def _walk_in(self, day: int) -> None:
        sc, log = self.sc, self.log
        levels = self._store_levels()
        free = None
        for s, row in enumerate(sc.walk_in[day]):
            for k, want in enumerate(row):
                if not want:
                    continue
                on_hand, reserved = levels.get((s, k), (0, 0))
                shelf = max(on_hand - reserved - self.phantom.get((s, k), 0), 0)
                sold = min(want, shelf)
                log.walk_in_demand += want
                if sold > on_hand - reserved:  # units the record does not know: the POS finds them, a count follows
                    cycle_count_record(product=self.products[k], location=self.stores[s],
                                       counted=on_hand - self.phantom.get((s, k), 0), source="simulation")
                    self.phantom[(s, k)] = 0
                if sold:
                    stock_sell(product=self.products[k], location=self.stores[s], quantity=sold, source="pos",
                               reference=f"day {day}")
                    log.walk_in_sold += sold
                    if day >= sc.end_of_season_day:
                        log.markdown_units += sold
                        log.markdown_revenue_lost += sold * (sc.skus[k].price - sc.price(k, day))
                if want > sold:
                    log.walk_in_lost += want - sold
                    log.lost_margin += (want - sold) * (sc.price(k, day) - sc.skus[k].cost)
                    free = free if free is not None else self._free_elsewhere()
                    if free.get(k, 0) - (on_hand - reserved) > 0:
                        log.walk_in_lost_pool_had += want - sold
        for s, k in sc.shrink[day]:  # a unit disappears; the record does not know
            on_hand, _r = levels.get((s, k), (0, 0))
            if on_hand - self.phantom.get((s, k), 0) > 0:
                self.phantom[(s, k)] = self.phantom.get((s, k), 0) + 1

    def _replenish(self, day: int) -> None:
        """The same rule for both policies: a store below half its target (a week of expected
        walk-in demand plus its floor) gets the difference from the DC, which keeps a week of its
        expected online demand; no replenishment in the last week before the end of season."""
        sc = self.sc
        if day >= sc.end_of_season_day - 7:
            return
        levels = self._store_levels()
        coming: dict[tuple[int, int], int] = {}
        for _d, _t, s, k, q in self.in_transit:
            coming[(s, k)] = coming.get((s, k), 0) + q
        ahead = sum(sc.demand_multiplier(d) for d in range(day + 1, min(day + 1 + COVER_DAYS, sc.days)))
        dc_rows = dict(StockLevel.objects.filter(location=self.dc).values_list("product_id", "on_hand"))
        dc_reserved = dict(StockLevel.objects.filter(location=self.dc).values_list("product_id", "reserved"))
        online_week = [0.0] * len(self.products)
        for d in range(day + 1, min(day + 1 + COVER_DAYS, sc.days)):
            for o in sc.online[d]:
                for k in o.lines:
                    online_week[k] += 1  # the planner's forecast: next week's online demand, as it will be
        for k, product in enumerate(self.products):
            dc_free = dc_rows.get(product.pk, 0) - dc_reserved.get(product.pk, 0) - int(online_week[k])
            floor = PROTECT_WALK_IN if sc.skus[k].velocity == "A" else 0
            for s, store in enumerate(self.stores):
                if dc_free <= 0:
                    break
                target = math.ceil(sc.store_rates[s][k] * ahead) + floor
                on_hand, reserved = levels.get((s, k), (0, 0))
                position = on_hand - reserved + coming.get((s, k), 0)
                if target <= 0 or position > target / 2:
                    continue
                qty = min(target - position, dc_free)
                if qty <= 0:
                    continue
                result = transfer_ship(product=product, from_location=self.dc, to_location=store, quantity=qty,
                                       source="simulation", reference="replenishment")
                self.in_transit.append((day + TRANSIT_DAYS, result.transfer.pk, s, k, qty))
                dc_free -= qty

    def _snapshot(self, day: int) -> None:
        rows = (StockLevel.objects.values("location__kind")
                .annotate(units=Sum("on_hand")).values_list("location__kind", "units"))
        units = dict(rows)
        transit = sum(q for *_x, q in self.in_transit)
        cost = {p.pk: float(p.unit_cost) for p in self.products}
        value = sum(cost[pid] * oh for pid, oh in StockLevel.objects.values_list("product_id", "on_hand"))
        value += sum(float(self.products[k].unit_cost) * q for _d, _t, _s, k, q in self.in_transit)
        self.log.daily.append({
            "day": day, "store_units": units.get(LocationKind.STORE, 0) or 0, "dc_units": units.get(LocationKind.DC, 0) or 0,
            "transit_units": transit, "stock_value": round(value, 2),
            "walk_in_lost": self.log.walk_in_lost, "online_refused": self.log.online_refused_units,
            "oversold": self.log.oversold_units,
        })


def _backordered_lines() -> list[tuple[int, list[int]]]:
    rows = Order.objects.filter(lines__status=LineStatus.BACKORDERED).values_list("pk", "lines__line_no", "lines__status")
    out: dict[int, list[int]] = {}
    for pk, line_no, status in rows:
        if status == LineStatus.BACKORDERED:
            out.setdefault(pk, []).append(line_no)
    return sorted(out.items())


def run_policy(sc: Scenario, policy: str, progress: Callable[[int, int], None] | None = None) -> RunLog:
    try:
        return Season(sc, policy, progress).run()
    except OmniError as exc:  # a service refused something the model asked: say what
        raise RuntimeError(f"{policy}: {exc.code}: {exc}") from exc
