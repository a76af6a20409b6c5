"""``python manage.py bench sync --json``: stock changes at a fixed rate for a fixed time, pushed
by a real Celery worker (own process, own redis-server) to a local webhook receiver.

Measures, per pushed update, the time from the commit of the oldest stock change it carries (its
outbox row's timestamp, taken a moment *before* the commit, so the figure errs high) to its arrival
at the receiver; then waits for the channel to converge and counts SKUs whose figure differs from
Omni's ATP (``lost``) and updates applied out of order (``stale_applied``). Baseline in the same
run: the retail targets it replaces — the five-minute figure retail guides set and the 15-minute
delta job common in practice — reported as ratios to the measured p99.

Run it against its own database, e.g. ``DATABASE_URL=postgres://…/omni_sync_bench`` (migrated here).
"""

from __future__ import annotations

import itertools
import random
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

NAME = "sync"
HELP = "Channel sync latency: stock changes at a fixed rate → real worker → webhook receiver."


def add_arguments(parser) -> None:
    parser.add_argument("--rate", type=float, default=200.0, help="stock changes per second (default 200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to stream changes (default 10)")
    parser.add_argument("--skus", type=int, default=200, help="SKUs the changes spread over (default 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads (default 4)")
    parser.add_argument("--producers", type=int, default=8, help="threads committing the changes on a shared schedule")
    parser.add_argument("--seed", type=int, default=7)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(max(int(-(-q * len(ordered) // 1)) - 1, 0), len(ordered) - 1)
    return round(ordered[index], 1)


class _SharedRedis:
    def __init__(self, url: str) -> None:
        self.url = url
        self.port = url.rsplit(":", 1)[-1]

    def stop(self) -> None:
        pass


def _use_broker(app, *, eager: bool, url: str) -> None:
    """Point this process's Celery producer at ``url`` (kombu keeps one pool per URL)."""
    app._pool = None
    app.conf.task_always_eager = eager
    app.conf.broker_url = url


def run(*, out, rate: float = 200.0, seconds: float = 10.0, skus: int = 200, concurrency: int = 4, producers: int = 8, seed: int = 7, **_) -> dict:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from allocation.models import ChannelSync, MessageStatus, SyncMessage, SyncMode
    from tests.harness.processes import RedisServer, WorkerProcess, wait_for
    from tests.harness.receiver import Receiver
    from allocation.sync.services import sync_channel_push, sync_outbox_drain
    from inventory import services as stock
    from inventory.models import Location, OutboxEvent, Product
    from omni.celery import app

    if connection.vendor != "postgresql":
        raise SystemExit("bench sync needs PostgreSQL: run it with DATABASE_URL=postgres://…/omni_sync_bench")
    call_command("migrate", verbosity=0)
    tag = f"b{int(time.time())}"
    workdir = Path(tempfile.mkdtemp(prefix="omni-bench-sync-"))
    if shutil.which("redis-server"):
        redis = RedisServer(workdir)  # private, so the shared Redis is left alone
        redis.start()
    elif settings.REDIS_URL:
        redis = _SharedRedis(settings.REDIS_URL)
    else:
        raise SystemExit("bench sync needs Redis: install redis-server or set REDIS_URL")
    receiver = Receiver(secret="bench-secret")
    url = receiver.start()
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    worker = None
    _use_broker(app, eager=True, url=redis.url)  # set-up commits wake nobody
    try:
        from allocation.models import Channel, ChannelVisibility

        out(f"setting up {skus} SKUs, channel {tag}, receiver {url}, redis :{redis.port}")
        location = Location.objects.create(code=f"{tag}-st", name="bench store", kind="store")
        channel = Channel.objects.create(code=tag, name="bench channel", kind="webshop", sync_mode=SyncMode.REALTIME,
                                         sync_window_seconds=0)
        ChannelVisibility.objects.create(channel=channel, location=location)
        ChannelSync.objects.create(channel=channel, url=url, secret="bench-secret", max_attempts=50)
        Channel.objects.exclude(pk=channel.pk).update(is_active=False)  # leftovers of earlier runs
        products = [Product(sku=f"{tag}-{i:05d}", name=f"bench {i}") for i in range(skus)]
        Product.objects.bulk_create(products)
        products = list(Product.objects.filter(sku__startswith=f"{tag}-").order_by("id"))
        for product in products:
            stock.stock_receive(product=product, location=location, quantity=1000)
        OutboxEvent.objects.filter(processed_at__isnull=True).exclude(product__in=products).update(processed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        sync_outbox_drain()
        sync_channel_push(channel_id=channel.id)
        with receiver.lock:
            receiver.latencies_ms.clear()

        db = settings.DATABASES["default"]
        db_url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        worker = WorkerProcess(database_url=db_url, broker_url=redis.url, logfile=workdir / "worker.log", concurrency=concurrency,
                               extra_env={"OMNI_SYNC_SWEEP_SECONDS": "30"})
        worker.start()
        _use_broker(app, eager=False, url=redis.url)

        rng = random.Random(seed)
        total = int(rate * seconds)
        # a fixed plan: change i is due at start + i/rate; producers take the next due change
        plan = [(rng.choice(products), rng.random() < 0.5, rng.randint(1, 3)) for _ in range(total)]
        out(f"streaming {total} stock changes at {rate:.0f}/s for {seconds:.0f}s ({producers} producer threads)")
        counter = itertools.count()
        start = time.monotonic()

        def produce() -> None:
            try:
                while (i := next(counter)) < total:
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    product, sell, quantity = plan[i]
                    if sell:
                        stock.stock_sell(product=product, location=location, quantity=quantity)
                    else:
                        stock.stock_receive(product=product, location=location, quantity=quantity)
            finally:
                connection.close()

        threads = [threading.Thread(target=produce) for _ in range(max(producers, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start

        from allocation.selectors import atp_for_channel

        def converged() -> bool:
            if SyncMessage.objects.filter(channel=channel, status=MessageStatus.PENDING).exists():
                return False
            if OutboxEvent.objects.filter(processed_at__isnull=True).exists():
                return False
            figures = atp_for_channel(channel=channel, product_ids=[p.id for p in products])
            with receiver.lock:
                return all(receiver.available.get(p.sku) == figures[p.id] for p in products)

        try:
            wait_for(converged, timeout=60, interval=0.2, what="the channel to converge")
        except TimeoutError:
            out("warning: not converged after 60 s")
        figures = atp_for_channel(channel=channel, product_ids=[p.id for p in products])
        with receiver.lock:
            lost = sum(1 for p in products if receiver.available.get(p.sku) != figures[p.id])
            latencies = list(receiver.latencies_ms)
            stale, duplicates, bad = receiver.stale_applied, receiver.duplicates, receiver.bad_signatures
        p50, p95, p99 = (_percentile(latencies, q) for q in (0.5, 0.95, 0.99))
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
            "baseline_5min_target_ms": 300_000,
            "baseline_15min_batch_ms": 900_000,
            "speedup_vs_5min_target": round(300_000 / p99, 1) if p99 else None,
            "speedup_vs_15min_batch": round(900_000 / p99, 1) if p99 else None,
        }
        out(f"{total} changes at {result['rate']}/s → {len(latencies)} updates; p50 {p50} ms, p95 {p95} ms, p99 {p99} ms; "
            f"lost {lost}, stale applied {stale}, duplicates dropped {duplicates}")
        return result
    finally:
        _use_broker(app, eager=saved[0], url=saved[1])
        if worker is not None:
            worker.stop()
        receiver.stop()
        redis.stop()
