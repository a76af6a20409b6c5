"""The simulated chain in the scratch database: the DC, the stores, the catalogue and the channels
with their visibility — set up once, as the demo seed does (``omni/demo``), before day 0. It writes
the other apps' catalogue rows directly, like the demo seed; it never runs outside the scratch
database ``simulate`` creates (``tests/test_boundaries.py`` names it among the exemptions)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from allocation.channels.services import channel_visibility_add
from allocation.models import Channel, ChannelKind, SyncMode
from inventory.models import Location, LocationKind, Product

from .scenario import Scenario

STORE_CAPACITY = 40  # orders a store can prepare per day (omni)
TRANSIT_DAYS = 2  # DC → store


def chain_create(sc: Scenario, *, omni: bool) -> tuple[Location, list[Location], list[Product], dict[str, Channel]]:
    dc = Location.objects.create(code=sc.dc.code, name=sc.dc.name, kind=LocationKind.DC, country=sc.dc.country,
                                 latitude=sc.dc.lat, longitude=sc.dc.lon, can_ship=True, handling_cost=Decimal("0.50"))
    stores = [Location.objects.create(
        code=st.code, name=st.name, kind=LocationKind.STORE, country=st.country, latitude=st.lat, longitude=st.lon,
        can_ship=omni, can_pickup=omni, daily_capacity=STORE_CAPACITY, handling_cost=Decimal("1.50"))
        for st in sc.stores]
    eos = date.fromisoformat(sc.start) + timedelta(days=sc.end_of_season_day)
    products = [Product.objects.create(
        sku=sk.sku, name=f"Simulated {sk.sku}", velocity_class=sk.velocity, price=Decimal(str(sk.price)),
        unit_cost=Decimal(str(sk.cost)), season="SIM", end_of_season=eos, launched_on=date.fromisoformat(sc.start),
        lead_time_days=TRANSIT_DAYS) for sk in sc.skus]
    channels: dict[str, Channel] = {}
    for code, kind in (("web", ChannelKind.WEBSHOP), ("app", ChannelKind.APP), ("trendyol", ChannelKind.MARKETPLACE),
                       ("pos", ChannelKind.POS)):
        # Siloed shops get the DC's figure once a night; Omni pushes within seconds.
        batch = not omni and code != "pos"
        channels[code] = Channel.objects.create(
            code=code, name=code, kind=kind, sync_mode=SyncMode.BATCH if batch else SyncMode.NEAR_REALTIME,
            sync_interval_seconds=86400 if batch else 900)
    for code, ch in channels.items():
        if code == "pos":
            for st in stores:
                channel_visibility_add(channel=ch, location=st)
            continue
        channel_visibility_add(channel=ch, location=dc)
        if omni and code in ("web", "app"):
            for st in stores:
                channel_visibility_add(channel=ch, location=st)
    return dc, stores, products, channels
