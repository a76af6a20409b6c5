"""A believable demo retailer, built deterministically from a seed.

The history (receipts, replenishments, daily sales per channel, a few damages) is written
straight to the ledger with ``bulk_create`` for speed, not through the per-row services; it is
simulated row by row so that every ``balance_after`` is right and
``on_hand == sum(movements)`` holds for every stock row (``ledger_check()`` stays clean).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from allocation.models import Channel, ChannelKind, ChannelVisibility, LocationGroup, SyncMode
from inventory.models import (
    Bucket,
    Location,
    LocationKind,
    MovementReason,
    Product,
    StockLevel,
    StockMovement,
    VelocityClass,
)

from omni.access.models import PartnerToken, Scope, StaffAssignment, StaffRole
from omni.access.services import partner_token_issue

from .data import CATEGORIES, COLOURS, FACILITIES, STORES, STYLES

ADMIN_USER, ADMIN_PASSWORD = "admin", "omni-demo-admin"
STAFF_PASSWORD = "omni-demo-staff"
SOURCE_REPLENISH = "wms"

# Expected units per day and location for one SKU, by velocity class and location kind.
RATES: dict[str, dict[str, float]] = {
    LocationKind.STORE: {"A": 0.08, "B": 0.03, "C": 0.01},
    LocationKind.DC: {"A": 0.5, "B": 0.15, "C": 0.04},
    LocationKind.WAREHOUSE: {"A": 0.25, "B": 0.08, "C": 0.02},
    LocationKind.THREE_PL: {"A": 0.3, "B": 0.1, "C": 0.03},
    LocationKind.SUPPLIER: {"A": 0.05, "B": 0.03, "C": 0.02},
}
# Which channels sell from a location kind, with their share of its sales.
CHANNEL_MIX: dict[str, list[tuple[str, float]]] = {
    LocationKind.STORE: [("pos", 0.82), ("web", 0.12), ("app", 0.06)],
    LocationKind.DC: [("web", 0.55), ("app", 0.25), ("trendyol", 0.12), ("zalando", 0.08)],
    LocationKind.WAREHOUSE: [("web", 0.7), ("app", 0.3)],
    LocationKind.THREE_PL: [("trendyol", 0.6), ("zalando", 0.4)],
    LocationKind.SUPPLIER: [("web", 1.0)],
}
# Share of the catalogue each kind of location carries, by class.
CARRIES: dict[str, dict[str, float]] = {
    LocationKind.STORE: {"A": 0.9, "B": 0.5, "C": 0.2},
    LocationKind.DC: {"A": 1.0, "B": 0.95, "C": 0.9},
    LocationKind.WAREHOUSE: {"A": 0.9, "B": 0.7, "C": 0.4},
    LocationKind.THREE_PL: {"A": 0.5, "B": 0.3, "C": 0.1},
    LocationKind.SUPPLIER: {"A": 0.2, "B": 0.4, "C": 0.5},
}


@dataclass(frozen=True)
class SeedSummary:
    seed: int
    locations: int
    stores: int
    products: int
    stock_levels: int
    movements: int
    channels: int
    safety_stock_policies: int
    live_orders: int
    partner_key: str
    pos_key: str
    staff_username: str
    staff_store: str


def partner_key_for(seed: int, what: str) -> str:
    """Demo keys are derived from the seed so that they can be printed again (demo only!)."""
    return f"omni_demo_{what}_" + hashlib.sha256(f"omni-demo:{seed}:{what}".encode()).hexdigest()[:24]


def ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _analyze() -> None:
    """Refresh the planner's statistics once the ledger's hundreds of thousands of rows are in. Without
    them SQLite reads a day of the ledger through the index on ``reason`` (nearly every row is a sale)
    instead of the one on ``created_at``: each of the 90 days' KPI snapshot took ~0.1 s instead of a
    few ms, and the demo's pages read the same way afterwards.

    SQLite only: PostgreSQL's autovacuum keeps its statistics, and a database-wide ANALYZE there
    would freeze the tables the demo fills afterwards (orders, allocations) at their empty size —
    the planner then chose a nested loop over every allocation for the KPI facts (minutes)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def has_demo_data() -> bool:
    return Location.objects.exists() or Product.objects.exists()


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def seed_demo(*, seed: int = 42, stores: int = 40, skus: int = 2000, days: int = 90, now: datetime | None = None) -> SeedSummary:
    rng = random.Random(seed)
    stores = max(1, min(stores, len(STORES)))
    now = (now or datetime.now(dt_timezone.utc)).replace(minute=0, second=0, microsecond=0)
    start = (now - timedelta(days=days)).replace(hour=0)
    with transaction.atomic():
        locations = _locations(rng, stores)
        products = _products(rng, skus, today=now.date())
        levels, movements = _stock_and_history(rng, locations, products, days=days, start=start)
        _analyze()
        channels = _channels(locations)
        summary_users = _users_and_tokens(seed, locations, channels)
        policies = _safety_stock(locations, products, today=now.date())
        from .console import console_demo  # the console's users and KPI history (kept apart for merging)

        console_demo(seed=seed, days=days, now=now)
    from .live import live_demo  # today's open work, through the services (after the history is committed)

    live = live_demo(seed=seed)
    from omni.insights.services import kpi_backfill

    kpi_backfill(days=1, until=now.date())  # today's KPI snapshot counts today's work too
    return SeedSummary(
        seed=seed, locations=len(locations), stores=stores, products=len(products), stock_levels=levels, movements=movements,
        channels=len(channels), safety_stock_policies=policies, live_orders=live.get("orders", 0), **summary_users,
    )


def _safety_stock(locations: list[Location], products: list[Product], *, today: date) -> int:
    """Fast movers (A class) get statistical safety stock at every store (95% service level,
    Z × σ(daily demand) × √lead time from the sales history just written) and a static pool buffer;
    the nightly job's own recompute fills in the figures."""
    from allocation.models import SafetyStockMethod, SafetyStockPolicy, SafetyStockScope
    from allocation.safety_stock.services import safety_stock_recompute

    fast = [p for p in products if p.velocity_class == VelocityClass.A]
    stores = [loc for loc in locations if loc.kind == LocationKind.STORE]
    rows = [
        SafetyStockPolicy(product=p, scope=SafetyStockScope.LOCATION, location=loc, method=SafetyStockMethod.STATISTICAL,
                          service_level=Decimal("95"))
        for p in fast for loc in stores
    ]
    rows += [SafetyStockPolicy(product=p, scope=SafetyStockScope.POOL, method=SafetyStockMethod.STATIC, quantity=5) for p in fast]
    SafetyStockPolicy.objects.bulk_create(rows, batch_size=2000)
    safety_stock_recompute(today=today, product_ids=[p.pk for p in fast])
    return len(rows)


def _locations(rng: random.Random, n_stores: int) -> list[Location]:
    rows = [
        Location(code=code, name=name, kind=kind, city=city, country=country, latitude=lat, longitude=lon, timezone=tz,
                 address=f"{city} logistics park", daily_capacity=cap, can_ship=True, can_pickup=False,
                 handling_cost=Decimal("1.20") if kind == "dc" else Decimal("2.00"))
        for code, name, kind, city, country, lat, lon, tz, cap in FACILITIES
    ]
    for i, (suffix, city, district, country, lat, lon, tz) in enumerate(STORES[:n_stores]):
        rows.append(Location(
            code=f"ST-{suffix}", name=f"Omni {city} {district}", kind=LocationKind.STORE, city=city, country=country,
            latitude=lat, longitude=lon, timezone=tz, address=f"{district}, {city}",
            can_ship=(i % 5 in (0, 1, 3)),  # three in five stores ship online orders
            can_pickup=True, daily_capacity=rng.choice([15, 20, 25, 30, 40, 60]),
            handling_cost=Decimal(rng.choice(["3.50", "4.00", "4.50", "5.00"])),
        ))
    return Location.objects.bulk_create(rows)


def _products(rng: random.Random, n: int, *, today: date) -> list[Product]:
    rows = []
    n_a, n_b = round(n * 0.2), round(n * 0.3)
    for i in range(n):
        prefix, category, sizes, (lo, hi) = CATEGORIES[i % len(CATEGORIES)]
        colour, style, size = rng.choice(COLOURS), rng.choice(STYLES), rng.choice(sizes)
        klass = "A" if i < n_a else "B" if i < n_a + n_b else "C"
        price = Decimal(f"{rng.randint(lo, hi)}.99")
        cost = (price * Decimal(rng.randint(32, 55)) / 100).quantize(Decimal("0.01"))
        season_pick = rng.random()
        season, eos = ("SS26", date(2026, 8, 31)) if season_pick < 0.4 else ("AW26", date(2027, 2, 28)) if season_pick < 0.75 else ("", None)
        launched = today - timedelta(days=rng.randint(0, 29) if rng.random() < 0.05 else rng.randint(30, 720))
        rows.append(Product(
            sku=f"{prefix}-{i + 1:05d}-{size}", name=f"{style} {category} {colour} {size}", barcode=ean13(f"869{i + 1:09d}"),
            velocity_class=VelocityClass(klass), unit_cost=cost, price=price, lead_time_days=rng.choice([7, 10, 14, 21, 30, 45, 60]),
            season=season, end_of_season=eos, launched_on=launched,
        ))
    # shuffle classes across categories so that A items are not all T-shirts
    classes = [p.velocity_class for p in rows]
    rng.shuffle(classes)
    for p, c in zip(rows, classes):
        p.velocity_class = c
    return Product.objects.bulk_create(rows, batch_size=1000)


def _stock_and_history(rng: random.Random, locations: list[Location], products: list[Product], *, days: int, start: datetime) -> tuple[int, int]:
    """Simulate each stock row's ledger; write rows and movements in bulk."""
    plans: list[tuple[StockLevel, list[tuple]]] = []
    for loc in locations:
        carries, rates, mix = CARRIES[loc.kind], RATES[loc.kind], CHANNEL_MIX[loc.kind]
        if loc.kind == LocationKind.STORE and not loc.can_ship:
            mix = [("pos", 1.0)]
        channels, weights = [c for c, _ in mix], [w for _, w in mix]
        for product in products:
            klass = product.velocity_class
            if rng.random() >= carries[klass]:
                continue
            plans.append((StockLevel(product=product, location=loc, on_hand=0, shelf=_shelf(product)), _simulate(
                rng, loc.kind, klass, rates[klass], channels, weights, days=days, start=start,
            )))
    for level, events in plans:  # the stock rows' figures are the simulation's last balances
        for *_, bucket, _q, balance, _s, _r in events:
            setattr(level, bucket, balance)
        # … and the time units last arrived, as the services keep it with each receipt
        level.last_received_at = max((e[0] for e in events if e[1] == MovementReason.RECEIPT and e[3] > 0), default=None)
    levels = StockLevel.objects.bulk_create([lv for lv, _ in plans], batch_size=2000)
    n_movements = _insert_movements(
        (level.pk, event) for level, events in plans for event in events
    )
    return len(levels), n_movements


_AISLES = {prefix: chr(ord("A") + i) for i, (prefix, *_rest) in enumerate(CATEGORIES)}


def _shelf(product: Product) -> str:
    """Where the SKU sits (the same plan in every building, no random draw: the demo's other figures
    stay as they were): an aisle per category, then bay and level from the SKU's number, e.g. ``C-07-2``."""
    prefix, number = product.sku.split("-")[:2]
    n = int(number)
    return f"{_AISLES.get(prefix, 'Z')}-{n % 15 + 1:02d}-{n // 15 % 4 + 1}"


def _insert_movements(rows: Iterator[tuple[int, tuple]]) -> int:
    """Plain executemany: the history is hundreds of thousands of rows, model instances would be the bottleneck."""
    table = StockMovement._meta.db_table
    columns = ["stock_level_id", "bucket", "reason", "quantity", "balance_after", "source", "actor_id", "external_id", "line",
               "fingerprint", "reference", "note", "created_at"]
    if connection.vendor == "postgresql":  # COPY: the fastest way into PostgreSQL
        total = 0
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for level_id, (when, reason, bucket, qty, balance, source, reference) in rows:
                copy.write_row((level_id, str(bucket), str(reason), qty, balance, source, None, "", 0, "", reference, "demo history", when))
                total += 1
        return total
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    adapt = connection.ops.adapt_datetimefield_value
    total, batch = 0, []
    with connection.cursor() as cursor:
        for level_id, (when, reason, bucket, qty, balance, source, reference) in rows:
            batch.append((level_id, str(bucket), str(reason), qty, balance, source, None, "", 0, "", reference, "demo history", adapt(when)))
            if len(batch) >= 20000:
                cursor.executemany(sql, batch)
                total += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            total += len(batch)
    return total


def _simulate(rng: random.Random, kind: str, klass: str, rate: float, channels: list[str], weights: list[float], *,
              days: int, start: datetime) -> list[tuple]:
    """One stock row's history: opening receipt, daily sales per channel, replenishment, rare damage."""
    cover = {"A": 21, "B": 28, "C": 45}[klass] * (3 if kind in (LocationKind.DC, LocationKind.SUPPLIER) else 1)
    target = max(2, round(rate * cover) + rng.randint(0, 3))
    reorder = max(1, target // 3)
    events: list[tuple] = []
    on_hand, damaged = 0, 0
    opening = target + rng.randint(0, target)
    on_hand += opening
    events.append((start - timedelta(hours=rng.randint(2, 20)), MovementReason.RECEIPT, Bucket.ON_HAND, opening, on_hand,
                   SOURCE_REPLENISH, "opening stock"))
    # some rows stop being replenished at some point: stock-outs, as in a real chain
    stop_after = rng.randint(days // 2, days) if rng.random() < (0.12 if kind == LocationKind.DC else 0.06) else days + 1
    drain = kind == LocationKind.DC and stop_after <= days and klass in "AB"
    for day in range(days):
        units = _poisson(rng, rate)
        if not units:
            continue
        base = start + timedelta(days=day)
        if on_hand < units + reorder and day < stop_after:
            qty = target - on_hand + units
            on_hand += qty
            events.append((base + timedelta(hours=6), MovementReason.RECEIPT, Bucket.ON_HAND, qty, on_hand, SOURCE_REPLENISH,
                           f"replenishment day {day}"))
        units = min(units, on_hand)
        if not units:
            continue
        # split the day's units over channels
        split: dict[str, int] = {}
        for _ in range(units):
            ch = channels[0] if len(channels) == 1 else rng.choices(channels, weights)[0]
            split[ch] = split.get(ch, 0) + 1
        for ch, qty in split.items():
            on_hand -= qty
            events.append((base + timedelta(hours=rng.randint(9, 20), minutes=rng.randint(0, 59)), MovementReason.SALE,
                           Bucket.ON_HAND, -qty, on_hand, ch, ""))
        if on_hand and rng.random() < 0.004:
            on_hand -= 1
            damaged += 1
            when = base + timedelta(hours=21)
            events.append((when, MovementReason.DAMAGE, Bucket.ON_HAND, -1, on_hand, "omni", "found damaged"))
            events.append((when, MovementReason.DAMAGE, Bucket.DAMAGED, 1, damaged, "omni", "found damaged"))
    if drain and on_hand:
        # sold out at the DC (the stores still hold the SKU)
        sold = on_hand
        on_hand = 0
        events.append((start + timedelta(days=days - 1, hours=15), MovementReason.SALE, Bucket.ON_HAND, -sold, 0, "web", ""))
    return events


def _channels(locations: list[Location]) -> dict[str, Channel]:
    by_kind: dict[str, list[Location]] = {}
    for loc in locations:
        by_kind.setdefault(loc.kind, []).append(loc)
    specs = [
        ("web", "Web shop", ChannelKind.WEBSHOP, True, 2, 2, SyncMode.NEAR_REALTIME),
        ("app", "Mobile app", ChannelKind.APP, True, 2, 1, SyncMode.NEAR_REALTIME),
        ("pos", "Store POS", ChannelKind.POS, False, 1, 1, SyncMode.REALTIME),
        ("trendyol", "Trendyol marketplace", ChannelKind.MARKETPLACE, False, 4, 3, SyncMode.BATCH),
        ("zalando", "Zalando marketplace", ChannelKind.MARKETPLACE, False, 3, 4, SyncMode.BATCH),
    ]
    channels = {
        code: Channel.objects.create(code=code, name=name, kind=kind, allows_dropship=dropship, margin_rank=margin,
                                     strategic_priority=prio, sync_mode=mode)
        for code, name, kind, dropship, margin, prio, mode in specs
    }
    ship_stores = LocationGroup.objects.create(code="ship-from-store", name="Stores that ship online orders")
    ship_stores.locations.set([loc for loc in by_kind.get(LocationKind.STORE, []) if loc.can_ship])
    all_stores = LocationGroup.objects.create(code="all-stores", name="All stores")
    all_stores.locations.set(by_kind.get(LocationKind.STORE, []))
    warehouses = [*by_kind[LocationKind.DC], *by_kind[LocationKind.WAREHOUSE]]
    rules = []
    for code in ("web", "app"):
        rules += [ChannelVisibility(channel=channels[code], location=loc) for loc in warehouses]
        rules.append(ChannelVisibility(channel=channels[code], group=ship_stores))
    rules.append(ChannelVisibility(channel=channels["web"], location=by_kind[LocationKind.SUPPLIER][0]))
    rules += [ChannelVisibility(channel=channels["pos"], group=all_stores),
              ChannelVisibility(channel=channels["pos"], location=by_kind[LocationKind.DC][0])]
    for code in ("trendyol", "zalando"):
        rules += [ChannelVisibility(channel=channels[code], location=by_kind[LocationKind.DC][0]),
                  ChannelVisibility(channel=channels[code], location=by_kind[LocationKind.THREE_PL][0])]
    ChannelVisibility.objects.bulk_create(rules)
    return channels


def _users_and_tokens(seed: int, locations: list[Location], channels: dict[str, Channel]) -> dict:
    User = get_user_model()
    User.objects.create_superuser(username=ADMIN_USER, email="admin@omni.example", password=ADMIN_PASSWORD)
    store = next(loc for loc in locations if loc.kind == LocationKind.STORE)
    staff_username = f"staff.{store.code.lower().removeprefix('st-')}"
    staff = User.objects.create_user(username=staff_username, password=STAFF_PASSWORD, first_name="Store", last_name="Staff")
    StaffAssignment.objects.create(user=staff, location=store)
    # A store manager who also covers the next store: picks a store after signing in.
    second = next(loc for loc in locations if loc.kind == LocationKind.STORE and loc.pk != store.pk)
    manager = User.objects.create_user(username=staff_username.replace("staff.", "manager.", 1), password=STAFF_PASSWORD,
                                       first_name="Store", last_name="Manager")
    StaffAssignment.objects.bulk_create([StaffAssignment(user=manager, location=loc, role=StaffRole.MANAGER) for loc in (store, second)])
    partner_key = partner_key_for(seed, "web")
    partner_token_issue(channel=channels["web"], name="Web shop backend", scopes=Scope.values, key=partner_key)
    pos_key = partner_key_for(seed, "pos")
    partner_token_issue(channel=channels["pos"], name=f"POS {store.code}", scopes=[Scope.STOCK_READ, Scope.STOCK_WRITE],
                        locations=[store], key=pos_key)
    return {"partner_key": partner_key, "pos_key": pos_key, "staff_username": staff_username, "staff_store": store.code}


def demo_logins(seed: int) -> dict[str, str]:
    """What to print after seeding (and again when the data already exists)."""
    staff = StaffAssignment.objects.select_related("user", "location").filter(user__username__startswith="staff.").order_by("id").first()
    web_key, pos_key = partner_key_for(seed, "web"), partner_key_for(seed, "pos")
    return {
        "admin_user": ADMIN_USER, "admin_password": ADMIN_PASSWORD,
        "staff_user": staff.user.username if staff else "", "staff_password": STAFF_PASSWORD,
        "staff_store": staff.location.code if staff else "",
        "manager_user": staff.user.username.replace("staff.", "manager.", 1) if staff else "",
        "manager_stores": ", ".join(StaffAssignment.objects.filter(user__username__startswith="manager.", role=StaffRole.MANAGER)
                                    .order_by("location__code").values_list("location__code", flat=True)),
        "web_key": web_key if PartnerToken.objects.filter(key_hash=PartnerToken.hash_key(web_key)).exists() else "",
        "pos_key": pos_key if PartnerToken.objects.filter(key_hash=PartnerToken.hash_key(pos_key)).exists() else "",
    }
