"""``python manage.py bench sync --json``: stock changes at a fixed rate for a fixed time, pushed
by a real Celery worker (own process; the run's private redis-server) to a local webhook receiver.

Omni: per pushed update, the time from the commit of the oldest stock change it carries (its outbox
row's timestamp, taken a moment *before* the commit, so the figure errs high) to its arrival at the
receiver (``p50_ms`` …); then the bench waits for the channel to converge and counts SKUs whose
figure differs from Omni's ATP (``lost``) and updates applied out of order (``stale_applied``).

Baseline, measured in the same run on the same change stream: a polling batch sync, as a delta job
does it — every ``--poll-seconds`` a poller reads the channel's full availability snapshot (every
SKU's ATP, one query) and posts it to a second receiver. Per SKU and poll, the time from the oldest
change the snapshot carries (stamped before its commit, as above) to the snapshot's arrival
(``baseline_p50_ms`` …; ``baseline_lost`` after a last poll). Its latency is about half the poll
period on average and the whole period at worst, plus the time to build and send the snapshot
(``baseline_snapshot_ms``): delta jobs in production poll every 5 to 15 minutes, so there the
baseline's figures are 60 to 180 times those of the default 5-second poll measured here.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omni.benchmarks.measure import load_average, percentile

NAME = "sync"
HELP = "Channel sync latency: stock changes at a fixed rate → real worker → webhook receiver, vs a polling batch sync."
REQUIRES = ("postgresql", "redis-server")


def add_arguments(parser) -> None:
    parser.add_argument("--rate", type=float, default=200.0, help="stock changes per second (default 200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to stream changes (default 10)")
    parser.add_argument("--skus", type=int, default=200, help="SKUs the changes spread over (default 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads (default 4)")
    parser.add_argument("--producers", type=int, default=8, help="threads committing the changes on a shared schedule")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="the baseline's poll period (default 5)")
    parser.add_argument("--seed", type=int, default=7)


def _use_broker(app, *, eager: bool, url: str) -> None:
    """Point this process's Celery producer at ``url`` (kombu keeps one pool per URL)."""
    app._pool = None
    app.conf.task_always_eager = eager
    app.conf.broker_url = url


@dataclass
class _Changes:
    """The committed changes, in commit order: (sku, time stamped just before the change began)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    committed: list[tuple[str, float]] = field(default_factory=list)

    def add(self, sku: str, began: float) -> None:
        with self.lock:
            self.committed.append((sku, began))

    def count(self) -> int:
        with self.lock:
            return len(self.committed)


class _Poller(threading.Thread):
    """The baseline: a full snapshot of the channel every ``period`` seconds, posted to ``url``."""

    def __init__(self, *, snapshot: Callable[[], dict[str, int]], url: str, receiver, changes: _Changes, period: float) -> None:
        super().__init__(name="bench-poller", daemon=True)
        self.snapshot, self.url, self.receiver, self.changes, self.period = snapshot, url, receiver, changes, period
        self.polls: list[tuple[int, float]] = []  # (changes committed before the snapshot was read, its arrival)
        self.snapshot_ms: list[float] = []
        self.stop_after = threading.Event()  # set: poll until every committed change has been carried, then stop
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connection

        try:
            tick = time.monotonic()
            while not (self.stop_after.is_set() and self.polls and self.polls[-1][0] >= self.changes.count()):
                tick += self.period
                time.sleep(max(tick - time.monotonic(), 0))
                started = time.perf_counter()
                cut = self.changes.count()  # every change counted here is committed before the read below
                body = json.dumps({"available": self.snapshot()}).encode()
                request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=60) as response:
                    response.read()
                with self.receiver.lock:
                    arrived = self.receiver.snapshots_received[-1]
                self.polls.append((cut, arrived))
                self.snapshot_ms.append((time.perf_counter() - started) * 1000)
        except BaseException as exc:  # noqa: BLE001 - reported by the run
            self.error = exc
        finally:
            connection.close()

    def latencies_ms(self) -> list[float]:
        """Per poll and SKU it carried news of: arrival − the oldest of those changes."""
        with self.changes.lock:
            committed = list(self.changes.committed)
        out: list[float] = []
        done = 0
        for cut, arrived in self.polls:
            oldest: dict[str, float] = {}
            for sku, began in committed[done:cut]:
                oldest.setdefault(sku, began)
            out += [(arrived - began) * 1000 for began in oldest.values()]
            done = max(done, cut)
        return out


def run(*, out, rate: float = 200.0, seconds: float = 10.0, skus: int = 200, concurrency: int = 4, producers: int = 8,
        poll_seconds: float = 5.0, seed: int = 7, **_: Any) -> dict:
    from django.conf import settings
    from django.db import connection

    from allocation.models import Channel, ChannelSync, ChannelVisibility, MessageStatus, SyncMessage, SyncMode
    from allocation.selectors import atp_for_channel
    from allocation.sync.drain import sync_outbox_drain
    from allocation.sync.push import sync_channel_push
    from inventory import services as stock
    from inventory.models import Location, Product
    from inventory.outbox import outbox_pending_exists
    from omni.celery import app
    from tests.harness.processes import WorkerProcess, wait_for
    from tests.harness.receiver import Receiver

    if not settings.REDIS_URL:
        raise SystemExit("bench sync needs a broker: run it through `manage.py bench sync` (it starts a private redis-server)")
    load_before = load_average()
    tag = f"b{int(time.time())}"
    workdir = Path(tempfile.mkdtemp(prefix="omni-bench-sync-"))  # the worker's log
    receiver, polled = Receiver(secret="bench-secret"), Receiver(secret="bench-secret")
    url, polled_url = receiver.start(), polled.start() + "/snapshot"
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    worker = None
    _use_broker(app, eager=True, url=settings.REDIS_URL)  # set-up commits wake nobody
    try:
        out(f"setting up {skus} SKUs, channel {tag}, receivers {url} and {polled_url}")
        location = Location.objects.create(code=f"{tag}-st", name="bench store", kind="store")
        channel = Channel.objects.create(code=tag, name="bench channel", kind="webshop", sync_mode=SyncMode.REALTIME,
                                         sync_window_seconds=0)
        ChannelVisibility.objects.create(channel=channel, location=location)
        ChannelSync.objects.create(channel=channel, url=url, secret="bench-secret", max_attempts=50)
        Product.objects.bulk_create([Product(sku=f"{tag}-{i:05d}", name=f"bench {i}") for i in range(skus)])
        products = list(Product.objects.filter(sku__startswith=f"{tag}-").order_by("id"))
        for product in products:
            stock.stock_receive(product=product, location=location, quantity=1000)
        sync_outbox_drain()
        sync_channel_push(channel_id=channel.id)
        with receiver.lock:
            receiver.latencies_ms.clear()

        def snapshot() -> dict[str, int]:
            figures = atp_for_channel(channel=channel, product_ids=[p.id for p in products])
            return {p.sku: figures[p.id] for p in products}

        polled.available.update(snapshot())  # both receivers start from the same figures

        worker = WorkerProcess(database_url=os.environ["DATABASE_URL"], broker_url=settings.REDIS_URL,
                               logfile=workdir / "worker.log", concurrency=concurrency, extra_env={"OMNI_SYNC_SWEEP_SECONDS": "30"})
        worker.start()
        _use_broker(app, eager=False, url=settings.REDIS_URL)

        rng = random.Random(seed)
        total = int(rate * seconds)
        # a fixed plan: change i is due at start + i/rate; producers take the next due change
        plan = [(rng.choice(products), rng.random() < 0.5, rng.randint(1, 3)) for _ in range(total)]
        out(f"streaming {total} stock changes at {rate:.0f}/s for {seconds:.0f}s ({producers} producer threads); "
            f"baseline polls every {poll_seconds:g}s")
        changes = _Changes()
        poller = _Poller(snapshot=snapshot, url=polled_url, receiver=polled, changes=changes, period=poll_seconds)
        counter = itertools.count()
        start = time.monotonic()

        def produce() -> None:
            try:
                while (i := next(counter)) < total:
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    product, sell, quantity = plan[i]
                    began = time.time()
                    if sell:
                        stock.stock_sell(product=product, location=location, quantity=quantity)
                    else:
                        stock.stock_receive(product=product, location=location, quantity=quantity)
                    changes.add(product.sku, began)
            finally:
                connection.close()

        poller.start()
        threads = [threading.Thread(target=produce) for _ in range(max(producers, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        poller.stop_after.set()

        def converged() -> bool:
            if SyncMessage.objects.filter(channel=channel, status=MessageStatus.PENDING).exists():
                return False
            if outbox_pending_exists():
                return False
            figures = atp_for_channel(channel=channel, product_ids=[p.id for p in products])
            with receiver.lock:
                return all(receiver.available.get(p.sku) == figures[p.id] for p in products)

        try:
            wait_for(converged, timeout=60, interval=0.2, what="the channel to converge")
        except TimeoutError:
            out("warning: not converged after 60 s")
        poller.join(timeout=poll_seconds * 3 + 60)
        if poller.error is not None:
            raise RuntimeError(f"the baseline poller failed: {poller.error!r}")
        figures = atp_for_channel(channel=channel, product_ids=[p.id for p in products])
        with receiver.lock:
            lost = sum(1 for p in products if receiver.available.get(p.sku) != figures[p.id])
            latencies = list(receiver.latencies_ms)
            stale, duplicates, bad = receiver.stale_applied, receiver.duplicates, receiver.bad_signatures
        with polled.lock:
            baseline_lost = sum(1 for p in products if polled.available.get(p.sku) != figures[p.id])
        baseline = poller.latencies_ms()
        p50, p95, p99 = (round(percentile(latencies, q), 1) for q in (0.5, 0.95, 0.99))
        b50, b95, b99 = (round(percentile(baseline, q), 1) for q in (0.5, 0.95, 0.99))
        result = {
            "changes": total,
            "rate": round(total / elapsed, 1),
            "seconds": round(elapsed, 2),
            "skus": skus,
            "updates_received": len(latencies),
            "p50_ms": p50,
            "p95_ms": p95,
            "p99_ms": p99,
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else 0.0,
            "lost": lost,
            "stale_applied": stale,
            "duplicates_dropped": duplicates,
            "bad_signatures": bad,
            "goal_p99_ms": 1000,
            "baseline": f"full-snapshot poll every {poll_seconds:g}s",
            "baseline_poll_seconds": poll_seconds,
            "baseline_polls": len(poller.polls),
            "baseline_updates": len(baseline),
            "baseline_snapshot_ms": round(statistics.median(poller.snapshot_ms), 1) if poller.snapshot_ms else None,
            "baseline_p50_ms": b50,
            "baseline_p95_ms": b95,
            "baseline_p99_ms": b99,
            "baseline_lost": baseline_lost,
            "ratio_p50": round(b50 / p50, 1) if p50 else None,
            "ratio_p99": round(b99 / p99, 1) if p99 else None,
            "load_avg_1m": [load_before, load_average()],
        }
        out(f"{total} changes at {result['rate']}/s → {len(latencies)} updates; p50 {p50} ms, p95 {p95} ms, p99 {p99} ms; "
            f"lost {lost}, stale applied {stale}, duplicates dropped {duplicates}")
        out(f"baseline ({result['baseline']}): {len(poller.polls)} polls, {len(baseline)} updates; p50 {b50} ms, p95 {b95} ms, "
            f"p99 {b99} ms; lost {baseline_lost}; snapshot {result['baseline_snapshot_ms']} ms; "
            f"Omni is {result['ratio_p99']}× faster at p99")
        return result
    finally:
        _use_broker(app, eager=saved[0], url=saved[1])
        if worker is not None:
            worker.stop()
        receiver.stop()
        polled.stop()
        shutil.rmtree(workdir, ignore_errors=True)
