"""The wake-up alone drains every commit: a real Celery worker with no periodic sweep (the sweep would
hide a lost wake-up), commits spread over several micro-batches so that many of them skip Redis
because this process knows a drain is queued until after them (allocation/sync/trigger.py)."""

from __future__ import annotations

import random
import shutil
import time

import pytest
from django.conf import settings
from django.db import connection

from allocation.models import SyncMessage
from allocation.sync import trigger
from inventory import services as stock
from inventory.models import OutboxEvent
from tests.harness.processes import RedisServer, WorkerProcess, wait_for

from ..allocation.sync_helpers import omni_figures, sync_channel
from ..inventory.factories import LocationFactory, ProductFactory

pytestmark = [
    pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary for a private Redis"),
]


def _forget_brokers(app) -> None:
    """Whatever this process keeps of the brokers earlier tests used: Celery's pools (kombu keeps
    pools per broker; Celery caches the first), kombu's pools, the wake-up's Redis clients."""
    import kombu.pools

    app._pool = app.amqp._producer_pool = None
    kombu.pools.reset()
    trigger._client.cache_clear()
    trigger._release_script.cache_clear()
    trigger._producer.cache_clear()
    trigger._set_get_unsupported = False


def _broker_state(url: str, worker: WorkerProcess) -> str:
    """What to look at when a wake-up went missing: the broker's queues and the worker's log."""
    import redis

    client = redis.Redis.from_url(url)
    queues = {key.decode(): client.llen(key) for key in client.keys("*") if client.type(key) == b"list"}
    log = worker.logfile.read_text(errors="replace")[-3000:] if worker.logfile.exists() else ""
    return f"queues {queues}; mark {client.get(trigger.PENDING_KEY)!r}; worker log tail:\n{log}"


@pytest.fixture
def worker_without_sweep(django_db_setup, tmp_path, monkeypatch):
    from omni.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own setting, and a parallel
    # run's worker process sets it (tests/parallel.py): the commits' wake-ups then went to that
    # Redis, not to this test's (it failed in every full run, never alone)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)

    server = RedisServer(tmp_path)
    server.start()
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = server.url
    _forget_brokers(app)
    trigger._drain_due_at = 0.0
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    # the start-up sweep runs once, before any change below; the periodic one not within the test
    proc = WorkerProcess(database_url=url, broker_url=server.url, logfile=tmp_path / "worker.log",
                         extra_env={"OMNI_SYNC_SWEEP_SECONDS": "3600"})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        app.conf.task_always_eager, app.conf.broker_url = saved
        _forget_brokers(app)
        trigger._drain_due_at = 0.0
        server.stop()
        connection.close()


def test_every_commit_is_drained_by_the_drains_its_wake_ups_queued(worker_without_sweep):
    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store])  # real-time, feed only
    products = [ProductFactory(sku=f"SKU-{i}") for i in range(4)]
    rng = random.Random(14)
    skipped = 0
    for i in range(40):  # ~0.6 s: several micro-batches of 100 ms, commits early and late in each
        before = trigger._drain_due_at
        stock.stock_receive(product=products[i % 4], location=store, quantity=1 + i % 3)
        skipped += trigger._drain_due_at == before and time.time() < before
        time.sleep(rng.uniform(0, 0.03))
    assert skipped > 0  # some commits relied on a drain this process knew to be queued

    try:
        wait_for(lambda: not OutboxEvent.objects.filter(processed_at__isnull=True).exists(), timeout=60, interval=0.1,
                 what="the drains queued by the wake-ups to take every outbox row")
    except TimeoutError as exc:
        raise AssertionError(_broker_state(worker_without_sweep.broker_url, worker_without_sweep)) from exc
    figures = omni_figures(web)
    wait_for(lambda: {sku: SyncMessage.objects.filter(channel=web, product__sku=sku).order_by("-sequence")
                      .values_list("available", flat=True).first() for sku in figures} == figures,
             timeout=60, interval=0.1, what="the feed to hold Omni's ATP for every SKU")
