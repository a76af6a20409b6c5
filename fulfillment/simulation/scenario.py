"""The season both policies face, drawn once from the seed (no database): the chain, the catalogue,
the buy, every walk-in customer, every online order, every record error, no-show and return.

Whatever a policy does, it meets exactly this demand: ``Scenario.digest()`` fingerprints it and both
runs report it.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field

from omni.geo import haversine_km

from .demand import WEEKDAY, gamma_shock, markdown_lift, poisson, season_curve, shock_variance_for, weighted_choice

CLASS_RATE = {"A": 0.45, "B": 0.2, "C": 0.08}  # walk-in units per store-day at a store of weight 1
CLASS_SHARE = (("A", 0.2), ("B", 0.3), ("C", 0.5))
STORE_CORRELATION = 0.25  # pairwise correlation of two stores' daily demand of a SKU
ONLINE_SHARE = 0.25  # online units / all units
BOPIS_SHARE = 0.25  # of web/app orders whose customer lives within BOPIS_RADIUS_KM of a store
BOPIS_RADIUS_KM = 30.0
NO_SHOW = 0.07
RETURN_RATE = 0.12
RETURN_AFTER_DAYS = 5
CROSS_SELL_WISH = 0.2  # a BOPIS customer at the counter wants one more item (bought when the store has it)
RECORD_ERROR_SHARE = 0.6  # store stock records that are wrong at the start (DeHoratius & Raman 2008: ~65 %)
SHRINK_PER_DAY = 0.003  # chance a store stock row loses a unit unrecorded (theft, misplacement) on a day
MARKDOWN = 0.3  # price cut from the end of season on
BUY_FACTOR = 1.0  # units bought / expected season demand (the same for both policies)
DC_RESERVE = 0.35  # of the buy held back at the DC for replenishment (both policies)
CHANNELS = (("web", 0.6), ("app", 0.25), ("trendyol", 0.15))


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    kind: str
    country: str
    lat: float
    lon: float
    weight: float = 1.0  # stores: relative footfall (and nearby online customers)


@dataclass(frozen=True)
class Sku:
    sku: str
    velocity: str
    price: float
    cost: float


@dataclass(frozen=True)
class OnlineOrder:
    ref: str
    channel: str
    lat: float
    lon: float
    lines: tuple[int, ...]  # SKU indexes, one unit each
    bopis_store: int | None  # nearest store, when the customer wants to collect
    no_show: bool
    returns: bool
    cross_sell: int | None  # SKU index the customer adds at the counter


@dataclass
class Scenario:
    seed: int
    days: int
    start: str  # ISO date of day 0
    end_of_season_day: int
    dc: Place
    stores: list[Place]
    skus: list[Sku]
    buy: list[int]  # units of each SKU bought for the season
    store_rates: list[list[float]]  # [store][sku] walk-in units/day at season curve 1
    walk_in: list[list[list[int]]] = field(default_factory=list)  # [day][store][sku]
    online: list[list[OnlineOrder]] = field(default_factory=list)  # [day]
    record_errors: list[tuple[int, int, int]] = field(default_factory=list)  # (store, sku, system − physical) at the start
    shrink: list[list[tuple[int, int]]] = field(default_factory=list)  # [day] (store, sku) losing a unit

    def digest(self) -> str:
        payload = json.dumps({"walk_in": self.walk_in, "online": [[asdict(o) for o in day] for day in self.online],
                              "errors": self.record_errors, "shrink": self.shrink, "buy": self.buy}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def demand_multiplier(self, day: int) -> float:
        """Season × weekday × the markdown's lift after the end of season."""
        from datetime import date, timedelta

        weekday = (date.fromisoformat(self.start) + timedelta(days=day)).weekday()
        lift = markdown_lift(MARKDOWN) if day >= self.end_of_season_day else 1.0
        return season_curve(day, self.days) * WEEKDAY[weekday] * lift

    def price(self, sku: int, day: int) -> float:
        return self.skus[sku].price * (1 - MARKDOWN if day >= self.end_of_season_day else 1.0)

    def nearest_store(self, lat: float, lon: float) -> tuple[int, float]:
        best = min(range(len(self.stores)), key=lambda s: haversine_km(lat, lon, self.stores[s].lat, self.stores[s].lon))
        return best, haversine_km(lat, lon, self.stores[best].lat, self.stores[best].lon)


def default_chain(stores: int, rng: random.Random) -> tuple[Place, list[Place]]:
    """The demo chain's DC and its first ``stores`` stores (real cities), with a footfall weight."""
    from omni.demo.data import FACILITIES, STORES

    dc = next(f for f in FACILITIES if f[2] == "dc")
    places = []
    for i in range(stores):
        code, city, district, country, lat, lon, _tz = STORES[i % len(STORES)]
        suffix = "" if i < len(STORES) else f"-{i // len(STORES)}"
        big = city in ("Istanbul", "Ankara", "Izmir", "Berlin", "Munich", "Hamburg")
        places.append(Place(f"ST-{code}{suffix}", f"{city} {district}", "store", country, lat, lon,
                            round(rng.uniform(1.1, 1.8) if big else rng.uniform(0.5, 1.2), 3)))
    return Place(dc[0], dc[1], "dc", dc[4], dc[5], dc[6]), places


def build_scenario(*, seed: int, days: int = 90, stores: int = 40, skus: int = 30, start: str = "2026-03-02",
                   chain: tuple[Place, list[Place]] | None = None, catalogue: list[Sku] | None = None) -> Scenario:
    rng = random.Random(seed)
    dc, places = chain if chain is not None else default_chain(stores, rng)
    if catalogue is None:
        catalogue = []
        for k in range(skus):
            velocity = CLASS_SHARE[0][0] if k < skus * 0.2 else CLASS_SHARE[1][0] if k < skus * 0.5 else "C"
            price = round(rng.uniform(19, 119), 2)
            catalogue.append(Sku(f"SIM-{k + 1:03d}", velocity, price, round(price * rng.uniform(0.38, 0.5), 2)))
    n_s, n_k = len(places), len(catalogue)
    eos = int(days * 0.75)
    rates = [[CLASS_RATE[sk.velocity] * st.weight for sk in catalogue] for st in places]
    sc = Scenario(seed=seed, days=days, start=start, end_of_season_day=eos, dc=dc, stores=places, skus=catalogue,
                  buy=[0] * n_k, store_rates=rates)
    shock_var = [shock_variance_for(correlation=STORE_CORRELATION, rate=CLASS_RATE[sk.velocity]) for sk in catalogue]
    demand_rng, online_rng, error_rng = random.Random(seed * 7 + 1), random.Random(seed * 7 + 2), random.Random(seed * 7 + 3)

    # Walk-in demand: Poisson around rate × multiplier × a shock shared by all stores (correlated).
    for day in range(days):
        m = sc.demand_multiplier(day)
        shocks = [gamma_shock(demand_rng, shock_var[k]) * m for k in range(n_k)]
        sc.walk_in.append([[poisson(demand_rng, rates[s][k] * shocks[k]) for k in range(n_k)] for s in range(n_s)])

    # Online demand: units are ONLINE_SHARE of all; customers live near the stores (by footfall), a
    # quarter of them far from any store (anywhere in the store's country).
    walk_units_per_day = sum(map(sum, rates))
    lines_per_order = 1.4
    orders_per_day = walk_units_per_day * ONLINE_SHARE / (1 - ONLINE_SHARE) / lines_per_order
    store_cum, acc = [], 0.0
    for st in places:
        acc += st.weight
        store_cum.append(acc)
    sku_cum, acc = [], 0.0
    for sk in catalogue:
        acc += CLASS_RATE[sk.velocity]
        sku_cum.append(acc)
    chan_cum = [sum(w for _c, w in CHANNELS[:i + 1]) for i in range(len(CHANNELS))]
    n = 0
    for day in range(days):
        todays = []
        for _ in range(poisson(online_rng, orders_per_day * sc.demand_multiplier(day))):
            n += 1
            home = places[weighted_choice(online_rng, store_cum)]
            spread = 0.12 if online_rng.random() < 0.75 else 1.8
            lat, lon = home.lat + online_rng.gauss(0, spread), home.lon + online_rng.gauss(0, spread * 1.3)
            lat, lon = max(min(lat, 89.0), -89.0), max(min(lon, 179.0), -179.0)
            size = 1 if online_rng.random() < 0.72 else 2 if online_rng.random() < 0.75 else 3
            lines: list[int] = []
            while len(lines) < min(size, n_k):
                k = weighted_choice(online_rng, sku_cum)
                if k not in lines:
                    lines.append(k)
            channel = CHANNELS[weighted_choice(online_rng, chan_cum)][0]
            near, dist = sc.nearest_store(lat, lon)
            bopis = near if channel != "trendyol" and dist <= BOPIS_RADIUS_KM and online_rng.random() < BOPIS_SHARE else None
            todays.append(OnlineOrder(
                ref=f"SIM-{n:06d}", channel=channel, lat=round(lat, 5), lon=round(lon, 5), lines=tuple(lines),
                bopis_store=bopis, no_show=online_rng.random() < NO_SHOW, returns=online_rng.random() < RETURN_RATE,
                cross_sell=weighted_choice(online_rng, sku_cum) if online_rng.random() < CROSS_SELL_WISH else None,
            ))
        sc.online.append(todays)

    # The season's buy: expected demand (walk-in + online) × BUY_FACTOR, per SKU.
    for k in range(n_k):
        expected = sum(sc.demand_multiplier(d) for d in range(days))
        walk = sum(rates[s][k] for s in range(n_s)) * expected
        sc.buy[k] = max(int(math.ceil(walk / (1 - ONLINE_SHARE) * BUY_FACTOR)), 1)

    # Record errors at the start and unrecorded shrinkage during the season (stores only).
    for s in range(n_s):
        for k in range(n_k):
            if error_rng.random() < RECORD_ERROR_SHARE:
                sc.record_errors.append((s, k, error_rng.choice((-2, -1, 1, 1, 2, 3))))
    for _day in range(days):
        sc.shrink.append([(s, k) for s in range(n_s) for k in range(n_k) if error_rng.random() < SHRINK_PER_DAY])
    return sc


def scenario_to_json(sc: Scenario, *, chain: tuple[Place, list[Place]] | None = None,
                     catalogue: list[Sku] | None = None) -> dict:
    """What a child process needs to draw the very same scenario again (not the draws themselves)."""
    return {"seed": sc.seed, "days": sc.days, "stores": len(sc.stores), "skus": len(sc.skus), "start": sc.start,
            "chain": None if chain is None else {"dc": asdict(chain[0]), "stores": [asdict(p) for p in chain[1]]},
            "catalogue": None if catalogue is None else [asdict(s) for s in catalogue], "digest": sc.digest()}


def scenario_from_json(spec: dict) -> Scenario:
    chain = None
    if spec.get("chain"):
        chain = (Place(**spec["chain"]["dc"]), [Place(**p) for p in spec["chain"]["stores"]])
    catalogue = [Sku(**s) for s in spec["catalogue"]] if spec.get("catalogue") else None
    sc = build_scenario(seed=spec["seed"], days=spec["days"], stores=spec["stores"], skus=spec["skus"], start=spec["start"],
                        chain=chain, catalogue=catalogue)
    if spec.get("digest") and sc.digest() != spec["digest"]:
        raise RuntimeError("the scenario drawn again differs from the parent's: the demand would not be the same")
    return sc


def chain_from_db(*, stores: int, skus: int) -> tuple[tuple[Place, list[Place]], list[Sku]]:
    """The current database's chain (read only): its DC, up to ``stores`` active stores with
    coordinates, and up to ``skus`` active SKUs (fast movers first), as plain values."""
    from inventory.models import Location, LocationKind, Product

    dc = (Location.objects.filter(kind=LocationKind.DC, is_active=True, latitude__isnull=False).order_by("code").first())
    if dc is None:
        raise ValueError("--from-db needs an active DC with coordinates in the current database")
    rows = list(Location.objects.filter(kind=LocationKind.STORE, is_active=True, latitude__isnull=False)
                .order_by("code")[:stores])
    if not rows:
        raise ValueError("--from-db needs active stores with coordinates in the current database")
    places = [Place(r.code, r.name, "store", r.country, float(r.latitude or 0), float(r.longitude or 0), 1.0) for r in rows]
    products = list(Product.objects.filter(is_active=True, price__gt=0).order_by("velocity_class", "sku")[:skus])
    if not products:
        raise ValueError("--from-db needs active products with a price in the current database")
    catalogue = [Sku(p.sku, p.velocity_class, float(p.price), float(p.unit_cost) or float(p.price) * 0.45) for p in products]
    return (Place(dc.code, dc.name, "dc", dc.country, float(dc.latitude or 0), float(dc.longitude or 0)), places), catalogue
