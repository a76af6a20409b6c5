"""The merchandiser's console in the demo: the role users, and a plausible history behind every KPI.

Kept apart from ``seed.py`` (which builds the retailer, its stock and its sales ledger) so that the
demo's other parts stay easy to merge. The history is written with ``bulk_create`` for speed, like
the ledger history: closed orders (shipped, picked up, cancelled, oversold) with their lines,
allocations, timeline events and fulfillment work; cycle counts; acknowledged channel pushes. It
holds no reservation and moves no stock (the sales ledger already carries the demand), so the
ledger checks stay clean. The chain gets better over the 90 days (more ship-from-store, faster
pickups, better counts), so the charts have a story. Then the daily KPI snapshots are backfilled.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from allocation.models import Channel
from allocation.sync.models import MessageKind, MessageStatus, SyncMessage, SyncState
from fulfillment.models import Work, WorkKind, WorkStatus
from inventory.models import CycleCount, Location, LocationKind, Product, StockLevel
from omni.bulk import bulk_update_fields
from omni.access.groups import MERCHANDISER, OPERATIONS, PLANNER, admin_roles_sync
from omni.insights.services import kpi_backfill
from orders.models import (
    Allocation,
    AllocationStatus,
    CustomerTier,
    DeliveryMode,
    LineStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    LostSale,
    LostSaleReason,
)

ROLE_USERS = {"merchandiser": MERCHANDISER, "planner": PLANNER, "operations": OPERATIONS}
ROLE_PASSWORD = "omni-demo-admin"


def console_users() -> dict[str, str]:
    """The three roles as groups, and one demo user in each (password ``omni-demo-admin``)."""
    admin_roles_sync(group_model=Group, permission_model=Permission)
    User = get_user_model()
    for username, role in ROLE_USERS.items():
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True, "first_name": role.title()})
        if created:
            user.set_password(ROLE_PASSWORD)
            user.save()
        user.groups.set([Group.objects.get(name=role)])
    return dict(ROLE_USERS)


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def kpi_history(*, seed: int, days: int, now: datetime, orders_per_day: float = 40.0) -> dict[str, int]:
    """Closed orders, counts and pushes for the ``days`` before today, improving over time."""
    rng = random.Random(seed * 7919 + 12)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    channels = {c.code: c for c in Channel.objects.all()}
    online = [(code, w) for code, w in (("web", 0.45), ("app", 0.25), ("trendyol", 0.18), ("zalando", 0.12)) if code in channels]
    locations = list(Location.objects.filter(is_active=True))
    stores = [loc for loc in locations if loc.kind == LocationKind.STORE and loc.can_ship] or \
        [loc for loc in locations if loc.kind == LocationKind.STORE]
    pickup_stores = [loc for loc in locations if loc.kind == LocationKind.STORE and loc.can_pickup] or stores
    warehouses = [loc for loc in locations if loc.kind in (LocationKind.DC, LocationKind.WAREHOUSE)]
    three_pl = [loc for loc in locations if loc.kind == LocationKind.THREE_PL] or warehouses
    products = list(Product.objects.filter(velocity_class__in=["A", "B"]).order_by("id")[:400]) or list(Product.objects.all()[:50])
    if not (online and stores and warehouses and products):
        return {"orders": 0, "counts": 0, "pushes": 0}

    orders: list[Order] = []
    order_times: list[datetime] = []
    plans: list[tuple] = []  # per order: (outcome, location, delivery, lines [(product, qty)], t)
    for i in range(days, 0, -1):
        day = today - timedelta(days=i)
        t = 1 - (i - 1) / max(days - 1, 1)  # 0 at the start, 1 yesterday
        for _ in range(max(int(rng.gauss(orders_per_day * _lerp(0.8, 1.2, t), orders_per_day * 0.15)), 1)):
            code = rng.choices([c for c, _ in online], weights=[w for _, w in online])[0]
            placed = day + timedelta(seconds=rng.randint(8 * 3600, 21 * 3600))
            bopis = code in ("web", "app") and rng.random() < 0.16
            if bopis:
                pickup = rng.choice(pickup_stores)
                via_transfer = rng.random() < 0.12
                where = rng.choice(warehouses) if via_transfer else pickup
            else:
                pickup, via_transfer = None, False
                if code in ("trendyol", "zalando"):
                    where = rng.choice([warehouses[0], *three_pl])
                else:
                    where = rng.choice(stores) if rng.random() < _lerp(0.08, 0.29, t) else rng.choice(warehouses)
            r = rng.random()
            oversold_p = _lerp(0.035, 0.006, t) if where.kind == LocationKind.STORE else _lerp(0.012, 0.003, t)
            outcome = ("oversold" if r < oversold_p else "cancelled" if r < oversold_p + 0.025
                       else "late_backorder" if r < oversold_p + 0.045 else "done")
            if outcome == "done" and bopis and rng.random() < _lerp(0.07, 0.03, t):
                outcome = "expired"  # ready, never collected
            n_lines = 1 if outcome == "oversold" else rng.choice((1, 1, 1, 2, 2, 3))
            lines = [(rng.choice(products), 1 if rng.random() < 0.85 else 2) for _ in range(n_lines)]
            orders.append(Order(
                channel=channels[code], external_id=f"H-{code.upper()}-{day:%y%m%d}-{len(orders):05d}",
                customer_ref=f"C-{rng.randint(1000, 99999)}",
                customer_tier=rng.choices(list(CustomerTier.values), weights=[70, 18, 9, 3])[0],
                delivery_mode=DeliveryMode.BOPIS if bopis else (DeliveryMode.EXPRESS if rng.random() < 0.15 else DeliveryMode.STANDARD),
                pickup_location=pickup, city=(pickup or where).city, country=(pickup or where).country,
                latitude=(pickup or where).latitude, longitude=(pickup or where).longitude,
                status=OrderStatus.CANCELLED if outcome in ("oversold", "cancelled", "expired") else OrderStatus.FULFILLED,
            ))
            order_times.append(placed)
            plans.append((outcome, where, pickup, via_transfer, lines, t))
    Order.objects.bulk_create(orders, batch_size=1000)
    for order, placed in zip(orders, order_times, strict=True):
        order.created_at = placed
    bulk_update_fields(Order, orders, ["created_at"], batch_size=1000)

    order_lines, allocations, events, works, stamps = [], [], [], [], []

    def event(order: Order, at: datetime, kind: str, data: dict, actor: str = "system") -> None:
        events.append(OrderEvent(order=order, kind=kind, actor=actor, data=data))
        stamps.append(min(at, now - timedelta(minutes=1)))

    for order, placed, (outcome, where, pickup, via_transfer, lines, t) in zip(orders, order_times, plans, strict=True):
        event(order, placed, "created", {})
        event(order, placed, "routed", {})
        done_at = placed + timedelta(hours=rng.uniform(3, 26))
        kind = (WorkKind.SHIP_TO_STORE if via_transfer else WorkKind.BOPIS) if pickup else (
            WorkKind.SHIP_FROM_STORE if where.kind == LocationKind.STORE else WorkKind.WAREHOUSE_SHIP)
        work = Work(order=order, location=where, pickup_location=pickup, kind=kind, deadline=placed + timedelta(hours=24))
        for n, (product, qty) in enumerate(lines, start=1):
            cancelled = outcome in ("oversold", "cancelled", "expired")
            line = OrderLine(order=order, line_no=n, product=product, quantity=qty, unit_price=product.price or Decimal("19.90"),
                             status=LineStatus.CANCELLED if cancelled else LineStatus.FULFILLED)
            order_lines.append(line)
            status = {"oversold": AllocationStatus.REJECTED, "cancelled": AllocationStatus.CANCELLED,
                      "expired": AllocationStatus.CANCELLED}.get(outcome, AllocationStatus.FULFILLED)
            allocations.append(Allocation(line=line, location=where, quantity=qty, status=status,
                                          ship_to_store=pickup if via_transfer else None, closed_at=done_at))
            if outcome == "oversold":
                at = placed + timedelta(hours=rng.uniform(1, 5))
                event(order, at, "allocation_rejected", {"line": n, "location": where.code, "quantity": qty, "reason": "not_found"}, "store")
                event(order, at, "line_backordered", {"line": n, "reason": f"reroute: no other location has {product.sku}."})
                event(order, at + timedelta(hours=rng.uniform(24, 72)), "line_cancelled", {"line": n, "reason": "customer gave up waiting"})
            elif outcome == "cancelled":
                event(order, placed + timedelta(minutes=rng.randint(5, 240)), "line_cancelled", {"line": n, "reason": "customer cancelled"}, "web shop")
            elif outcome == "late_backorder" and n == 1:
                event(order, placed, "line_backordered", {"line": n, "reason": "scarce stock: waiting for the next receipt"})
        if outcome in ("oversold", "cancelled"):
            last = max(stamps[-1], placed)
            event(order, last, "status_changed", {"from": "allocated", "to": OrderStatus.CANCELLED})
            work.status = WorkStatus.REJECTED if outcome == "oversold" else WorkStatus.CANCELLED
            work.closed_at = min(last, now)
        elif pickup:
            prep = rng.lognormvariate(math.log(_lerp(230, 95, t)), 0.45)  # minutes, placed → ready
            work.ready_at = min(placed + timedelta(minutes=prep), now - timedelta(minutes=2))
            work.on_time = prep < 24 * 60
            if outcome == "expired":
                work.status, work.closed_at = WorkStatus.EXPIRED, work.ready_at + timedelta(days=5)
                for n in range(1, len(lines) + 1):
                    event(order, work.closed_at, "line_cancelled", {"line": n, "reason": "not collected in time"})
            else:
                work.status = WorkStatus.COLLECTED
                work.closed_at = work.ready_at + timedelta(hours=rng.lognormvariate(math.log(20), 0.8))
            work.closed_at = min(work.closed_at, now - timedelta(minutes=1))
            event(order, work.closed_at, "status_changed", {"from": "allocated", "to": order.status})
        else:
            late = rng.random() < _lerp(0.08, 0.025, t)
            work.status, work.shipped_at = WorkStatus.SHIPPED, min(done_at + (timedelta(hours=20) if late else timedelta()), now - timedelta(minutes=2))
            work.closed_at, work.on_time = work.shipped_at, not late
            event(order, work.shipped_at, "status_changed", {"from": "allocated", "to": OrderStatus.FULFILLED})
        works.append(work)
    OrderLine.objects.bulk_create(order_lines, batch_size=2000)
    for alloc in allocations:
        alloc.line = alloc.line  # the line's pk is set now
    Allocation.objects.bulk_create(allocations, batch_size=2000)
    OrderEvent.objects.bulk_create(events, batch_size=5000)
    for e, at in zip(events, stamps, strict=True):
        e.created_at = at
    bulk_update_fields(OrderEvent, events, ["created_at"], batch_size=5000)
    Work.objects.bulk_create(works, batch_size=2000)
    for w, placed in zip(works, order_times, strict=True):
        w.created_at = placed
    bulk_update_fields(Work, works, ["created_at"], batch_size=2000)

    counts = _counts(rng, days=days, today=today, now=now)
    pushes = _pushes(rng, channels=list(channels.values()), products=products, days=days, today=today, now=now)
    lost = _lost_sales(rng, channels=[channels[c] for c, _w in online], products=products, days=days, today=today, now=now)
    return {"orders": len(orders), "counts": counts, "pushes": pushes, "lost_sales": lost}


def _counts(rng: random.Random, *, days: int, today: datetime, now: datetime) -> int:
    """Cycle counts, about 30 a day across the chain; hit rate rising from ~90 % to ~98 %."""
    levels = list(StockLevel.objects.filter(on_hand__gt=0).select_related("product").order_by("id")[:5000])
    if not levels:
        return 0
    rows, stamps = [], []
    for i in range(days, 0, -1):
        t = 1 - (i - 1) / max(days - 1, 1)
        for _ in range(rng.randint(22, 38)):
            level = rng.choice(levels)
            miss = rng.random() > _lerp(0.90, 0.985, t)
            variance = rng.choice((-3, -2, -2, -1, 1, 2)) if miss else 0
            variance = max(variance, -level.on_hand)
            rows.append(CycleCount(stock_level=level, counted=level.on_hand + variance, system_quantity=level.on_hand,
                                   variance=variance, source="demo"))
            stamps.append(today - timedelta(days=i) + timedelta(seconds=rng.randint(7 * 3600, 11 * 3600)))
    CycleCount.objects.bulk_create(rows, batch_size=2000)
    for row, at in zip(rows, stamps, strict=True):
        row.counted_at = min(at, now)
    bulk_update_fields(CycleCount, rows, ["counted_at"], batch_size=2000)
    return len(rows)


def _pushes(rng: random.Random, *, channels: list[Channel], products: list[Product], days: int, today: datetime,
            now: datetime) -> int:
    """Acknowledged availability pushes, about 150 a day; p95 falling from minutes to seconds."""
    sequences: dict[tuple[int, int], int] = {}
    rows = []
    for i in range(days, 0, -1):
        t = 1 - (i - 1) / max(days - 1, 1)
        for _ in range(rng.randint(120, 180)):
            channel, product = rng.choice(channels), rng.choice(products)
            key = (channel.pk, product.pk)
            sequences[key] = sequences.get(key, 0) + 1
            slow = rng.random() < _lerp(0.08, 0.01, t)
            ms = int(rng.uniform(60_000, 900_000) if slow else rng.lognormvariate(math.log(_lerp(4000, 900, t)), 0.6))
            changed = today - timedelta(days=i) + timedelta(seconds=rng.randint(0, 86_399 - 1000))
            acked = min(changed + timedelta(milliseconds=ms), now)
            rows.append(SyncMessage(channel=channel, kind=MessageKind.AVAILABILITY, product=product, sequence=sequences[key],
                                    available=rng.randint(0, 40), changed_at=changed, status=MessageStatus.SENT,
                                    attempts=1, acked_at=acked, latency_ms=ms))
    SyncMessage.objects.bulk_create(rows, batch_size=5000)
    _acknowledged_figures_now(rng, rows)
    # the per (channel, SKU) sequence continues after the history
    existing = {(s.channel_id, s.product_id): s for s in SyncState.objects.filter(product__in=products)}
    new: list[SyncState] = []
    stale: list[SyncState] = []
    for (channel_id, product_id), seq in sequences.items():
        state = existing.get((channel_id, product_id))
        if state is None:
            new.append(SyncState(channel_id=channel_id, product_id=product_id, sequence=seq))
        elif state.sequence < seq:
            state.sequence = seq
            stale.append(state)
    SyncState.objects.bulk_create(new, batch_size=5000)
    bulk_update_fields(SyncState, stale, ["sequence"], batch_size=5000)
    return len(rows)


def _acknowledged_figures_now(rng: random.Random, rows: list[SyncMessage]) -> None:
    """The newest acknowledged figure of each (channel, SKU) is what Omni would publish now, except
    for a few (about 3 %) a channel has not caught up with: the dashboard's sync drift."""
    from allocation.selectors import availability_for_channels

    newest: dict[tuple[int, int], SyncMessage] = {}
    for msg in rows:
        assert msg.product_id is not None
        newest[(msg.channel_id, msg.product_id)] = msg
    if not newest:
        return
    channels = list(Channel.objects.filter(pk__in={c for c, _p in newest}, is_active=True))
    figures = availability_for_channels(channels=channels, product_ids={p for _c, p in newest})
    for (channel_id, product_id), msg in newest.items():
        comp = figures.get(channel_id, {}).get(product_id)
        now_figure = comp.atp if comp is not None else 0
        msg.available = max(now_figure + rng.choice((-3, -2, -1, 1, 2, 5)), 0) if rng.random() < 0.03 else now_figure
    bulk_update_fields(SyncMessage, list(newest.values()), ["available"], batch_size=5000)


def _lost_sales(rng: random.Random, *, channels: list[Channel], products: list[Product], days: int, today: datetime,
                now: datetime) -> int:
    """Refused demand, a few a day, falling over time; about 60 % of it the pool held elsewhere."""
    rows: list[LostSale] = []
    stamps: list[datetime] = []
    reasons = [LostSaleReason.NO_ATP, LostSaleReason.QUOTA, LostSaleReason.SCARCITY, LostSaleReason.REJECTED]
    for i in range(days, 0, -1):
        t = 1 - (i - 1) / max(days - 1, 1)
        for _ in range(max(int(rng.gauss(_lerp(6, 2, t), 1.5)), 0)):
            product, qty = rng.choice(products), rng.choice((1, 1, 1, 2, 3))
            covered = rng.random() < 0.6
            free = rng.randint(qty, qty + 30) if covered else rng.randint(0, qty - 1)
            rows.append(LostSale(channel=rng.choice(channels), product=product, quantity=qty,
                                 unit_price=product.price or Decimal("19.90"), reason=rng.choices(reasons, weights=[55, 15, 10, 20])[0],
                                 pool_free=free, pool_could_cover=covered, order_ref=f"H-LOST-{i:03d}-{len(rows):04d}"))
            stamps.append(min(today - timedelta(days=i) + timedelta(seconds=rng.randint(8 * 3600, 21 * 3600)), now))
    LostSale.objects.bulk_create(rows, batch_size=2000)
    for row, at in zip(rows, stamps, strict=True):
        row.created_at = at
    bulk_update_fields(LostSale, rows, ["created_at"], batch_size=2000)
    return len(rows)


def console_demo(*, seed: int, days: int, now: datetime) -> dict[str, int]:
    """Role users, the KPI history, and the daily KPI snapshots of every day of it (and today)."""
    console_users()
    made = kpi_history(seed=seed, days=days, now=now)
    made["kpi_facts"] = kpi_backfill(days=days + 1, until=now.date())
    return made
