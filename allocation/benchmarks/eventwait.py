"""``python manage.py bench eventwait --json``: how long a fulfilment event's commit waits behind a
running sync drain.

Every partner event (``sync_event_publish``: ready for pickup, shipped, rejected …) takes its
channel's ``ChannelSync`` row lock, last in the store's transaction, until that transaction
commits; a drain round (``sync_outbox_drain``) takes every active channel's ``ChannelSync`` row for
its marking step, and each channel's again to publish it. So a store commit that publishes an event
while a round runs waits for what the round holds.

The run: ``--channels`` real-time channels that each see ``--locations`` locations, ``--skus``
SKUs received at every location with the drain's hook switched off, so their outbox rows wait.
Then, for each backlog size in ``--backlogs`` (outbox rows pending when the round starts: a
trickle, a burst, a catch-up after an outage), a thread runs one drain round while another commits
event transactions back to back on the first channel (``sync_event_publish`` as the last step of a
transaction, as the store's services do); each event's time from the start of its transaction to
its commit is kept, the slowest is the longest a store commit waited. The round marks every
channel's dirty SKUs holding every channel's lock, then publishes each channel in its own
transaction: an event waits for the marking step and its own channel's publish, not the round.
Baseline, in the same run: the same event transactions with no drain running.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from omni.benchmarks.measure import load_average, percentile

NAME = "eventwait"
HELP = "Fulfilment event commit time while a sync drain round runs, against no drain (same run)."
REQUIRES = ("postgresql",)


def add_arguments(parser) -> None:
    parser.add_argument("--skus", type=int, default=1500, help="SKUs (default 1500)")
    parser.add_argument("--locations", type=int, default=2, help="locations every channel sees (default 2)")
    parser.add_argument("--channels", type=int, default=3, help="real-time channels (default 3)")
    parser.add_argument("--backlogs", default="20,300,1500", help="outbox rows pending per measured round (default 20,300,1500)")
    parser.add_argument("--events", type=int, default=200, help="event transactions in the baseline (default 200)")


def _setup(skus: int, locations: int, channels: int):
    from django.test import override_settings

    from allocation.models import Channel, ChannelSync, ChannelVisibility
    from allocation.channels.models import SyncMode
    from inventory.models import Location, Product
    from inventory.services import stock_receive

    locs = [Location.objects.create(code=f"EW-{i:02d}", name=f"Bench store {i}", kind="store", latitude=41.0, longitude=29.0)
            for i in range(locations)]
    chans = []
    for c in range(channels):
        ch = Channel.objects.create(code=f"ew-{c}", name=f"Bench channel {c}", kind="webshop", sync_mode=SyncMode.REALTIME)
        ChannelVisibility.objects.bulk_create([ChannelVisibility(channel=ch, location=loc) for loc in locs])
        ChannelSync.objects.get_or_create(channel=ch)
        chans.append(ch)
    products = Product.objects.bulk_create([Product(sku=f"EW-{i:05d}", name=f"Bench item {i}") for i in range(skus)])
    with override_settings(OMNI_OUTBOX_HOOK=""):  # no drain queued: the outbox rows wait
        for p in products:
            for loc in locs:
                stock_receive(product=p, location=loc, quantity=5, source="bench")
    return chans, products, locs


def _pending() -> int:
    from inventory.models import OutboxEvent

    return OutboxEvent.objects.filter(processed_at__isnull=True).count()


def _outbox_clear() -> None:
    from allocation.sync.drain import sync_outbox_drain

    while _pending():
        sync_outbox_drain()


def _backlog(products, locs, rows: int) -> None:
    from django.test import override_settings

    from inventory.services import stock_receive

    with override_settings(OMNI_OUTBOX_HOOK=""):
        for p in products[:rows]:
            stock_receive(product=p, location=locs[0], quantity=1, source="bench")


def _event_tx(channel, n: int) -> float:
    from django.db import transaction

    from allocation.sync.publish import sync_event_publish

    t0 = time.perf_counter()
    with transaction.atomic():
        sync_event_publish(channel=channel, kind="order_status", payload={"order": f"EW-{n}", "status": "ready"})
    return (time.perf_counter() - t0) * 1000


def _events_during(channel) -> tuple[list[float], float]:
    """Run one drain round in a thread while this thread commits event transactions back to back
    until it ends; returns the event times and the round's duration (ms)."""
    from django.db import connection

    from allocation.sync.drain import sync_outbox_drain

    started, done = threading.Event(), threading.Event()
    took: list[float] = []

    def drain() -> None:
        try:
            connection.ensure_connection()
            started.set()
            t0 = time.perf_counter()
            sync_outbox_drain()
            took.append((time.perf_counter() - t0) * 1000)
        finally:
            started.set()
            done.set()
            connection.close()

    thread = threading.Thread(target=drain)
    times: list[float] = []
    thread.start()
    started.wait()
    time.sleep(0.002)  # the round's first statement (its locks) goes first
    n = 0
    while not done.is_set():
        times.append(_event_tx(channel, n))
        n += 1
    thread.join()
    return times, took[0] if took else 0.0


def run(*, out: Callable[[str], None], skus: int = 1500, locations: int = 2, channels: int = 3,
        backlogs: str = "20,300,1500", events: int = 200, **_: Any) -> dict[str, Any]:
    load_before = load_average()
    chans, products, locs = _setup(skus, locations, channels)
    _outbox_clear()  # the initial receipts: published, so every later round is a delta round
    channel = chans[0]
    for n in range(10):  # warm up
        _event_tx(channel, n)
    base = [_event_tx(channel, n) for n in range(events)]
    b50, b95 = percentile(base, 0.5), percentile(base, 0.95)
    out(f"baseline (no drain): {events} event commits, p50 {b50:.2f} ms, p95 {b95:.2f} ms, max {max(base):.2f} ms")
    rounds = []
    for size in [int(x) for x in backlogs.split(",") if x.strip()]:
        _backlog(products, locs, min(size, len(products)))
        pending = _pending()
        times, drain_ms = _events_during(channel)
        worst = max(times, default=0.0)
        rounds.append({"outbox_rows": pending, "drain_round_ms": round(drain_ms, 1), "events_during": len(times),
                       "max_event_ms": round(worst, 1), "ratio_max_to_baseline_p95": round(worst / b95, 1) if b95 else None})
        out(f"round with {pending} outbox rows: drain {drain_ms:.1f} ms; the slowest of the {len(times)} event commit(s) "
            f"made while it ran took {worst:.1f} ms (baseline p95 {b95:.2f} ms)")
        _outbox_clear()
    return {
        "channels": channels, "locations": locations, "skus": skus, "baseline_p50_ms": round(b50, 2),
        "baseline_p95_ms": round(b95, 2), "baseline_max_ms": round(max(base), 2), "rounds": rounds,
        "load_avg_1m": [load_before, load_average()],
    }
