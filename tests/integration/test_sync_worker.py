"""Channel sync end to end: a real Celery worker process (with beat), a real redis-server and
local HTTP receivers. Changes arrive signed and in sequence, duplicates are dropped, and after a
SIGKILLed worker, a Redis outage or an endpoint outage every channel converges to exactly the ATP
Omni computes, with no change lost. Waits are bounded; nothing here is timed."""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from django.db import connection

from allocation.models import MessageStatus, SyncMessage, SyncMode
from allocation.sync.push import sync_messages_resend
from inventory import services as stock
from inventory.models import OutboxEvent
from tests.harness.processes import RedisServer, WorkerProcess, wait_for
from tests.harness.receiver import Receiver

from ..allocation.sync_helpers import omni_figures, sync_channel
from ..inventory.factories import LocationFactory, ProductFactory

pytestmark = [
    pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]
HAVE_REDIS_SERVER = shutil.which("redis-server") is not None


class SharedRedis:
    """REDIS_URL, when no redis-server binary is at hand to run a private one (cannot be stopped)."""

    url = os.environ.get("REDIS_URL", "")
    stoppable = False

    def stop(self) -> None:
        pass

WAIT = 90  # seconds: an upper bound for convergence (not a performance claim; see bench sync). Push retries
# back off exponentially and Celery reconnects to a restarted broker with its own backoff (up to 30 s
# between tries), so on a busy machine recovery can take tens of seconds.


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if not HAVE_REDIS_SERVER:
        yield SharedRedis()
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.stoppable = True
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_broker(redis_server):
    """This test process publishes to the private Redis for real (the session default is eager)."""
    from omni.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    # Celery reads CELERY_BROKER_URL from the environment before its own setting, and a parallel
    # run's worker process sets it (tests/parallel.py): without this the test process published to
    # that Redis, not the private one (the sweep hid it here; test_sync_wake, with no sweep, timed out)
    env_broker = os.environ.pop("CELERY_BROKER_URL", None)
    app.conf.task_always_eager = False
    app.conf.broker_url = redis_server.url
    app._pool = app.amqp._producer_pool = None  # kombu keeps one producer pool per broker URL
    yield app
    app._pool = app.amqp._producer_pool = None
    app.conf.task_always_eager, app.conf.broker_url = saved
    if env_broker is not None:
        os.environ["CELERY_BROKER_URL"] = env_broker


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, live_broker, redis_server, tmp_path_factory):
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    # DB_CONN_MAX_AGE as long as the module runs: a connection the worker keeps is not retired by age mid-test
    proc = WorkerProcess(database_url=url, broker_url=redis_server.url, logfile=tmp_path_factory.mktemp("worker") / "worker.log",
                         extra_env={"DB_CONN_MAX_AGE": "900"})
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def receivers():
    made = []

    def make(secret: str = "s3cret") -> Receiver:
        r = Receiver(secret=secret)
        r.url = r.start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.hold.clear()
        r.stop()


@pytest.fixture
def shop(worker, receivers):
    """Two channels on one store: a real-time delta webhook and a near-real-time absolute one."""
    store = LocationFactory(code="ST-01")
    web_rx, mkt_rx = receivers(), receivers()
    web = sync_channel(code="web", locations=[store], url=web_rx.url)
    mkt = sync_channel(code="mkt", locations=[store], mode=SyncMode.NEAR_REALTIME, window=1, url=mkt_rx.url,
                       endpoint_mode="absolute", max_attempts=20)
    products = [ProductFactory(sku=f"SKU-{i}") for i in range(3)]
    return store, products, [(web, web_rx), (mkt, mkt_rx)]


def converged(channels) -> bool:
    if OutboxEvent.objects.filter(processed_at__isnull=True).exists():
        return False
    if SyncMessage.objects.filter(status=MessageStatus.PENDING).exists():
        return False
    for channel, rx in channels:
        with rx.lock:
            held = dict(rx.available)
        if any(held.get(sku, 0) != atp for sku, atp in omni_figures(channel).items()):
            return False
    return True


def wait_converged(channels) -> None:
    try:
        wait_for(lambda: converged(channels), timeout=WAIT, interval=0.1, what="every channel to hold Omni's ATP")
    finally:
        connection.close()


def changes(store, products, rounds: int) -> None:
    for i in range(rounds):
        product = products[i % len(products)]
        stock.stock_receive(product=product, location=store, quantity=3)
        if i % 2:
            stock.stock_sell(product=product, location=store, quantity=1)


def assert_sequences_match_log(channel, rx) -> None:
    for sku, seq in rx.sequence.items():
        published = SyncMessage.objects.filter(channel=channel, product__sku=sku, kind="availability").order_by("-sequence").first()
        assert seq == published.sequence


def test_changes_arrive_signed_in_sequence_and_duplicates_are_dropped(shop):
    store, products, channels = shop
    changes(store, products, rounds=12)

    wait_converged(channels)

    (web, web_rx), (mkt, mkt_rx) = channels
    assert web_rx.bad_signatures == mkt_rx.bad_signatures == 0
    assert web_rx.available == {"SKU-0": 10, "SKU-1": 10, "SKU-2": 10} == mkt_rx.available  # 4 × 3 in, 2 × 1 out each
    assert_sequences_match_log(web, web_rx)
    assert web_rx.stale_applied == 0 and mkt_rx.stale_applied == 0
    # every message was acknowledged, with its latency recorded
    assert not SyncMessage.objects.filter(status="sent", latency_ms__isnull=True).exists()

    # deliver everything again (as after a lost acknowledgement): the receiver drops it all
    applied_before, figures_before = web_rx.applied, dict(web_rx.available)
    sent = list(SyncMessage.objects.filter(channel=web, status="sent").values_list("id", flat=True))
    SyncMessage.objects.filter(id__in=sent).update(status="dead")
    assert sync_messages_resend(message_ids=sent) == len(sent)
    wait_converged(channels)
    assert web_rx.duplicates == len(sent)
    assert (web_rx.applied, web_rx.available) == (applied_before, figures_before)


def _other_backends() -> set[tuple[int, object]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return set(cursor.fetchall())


def test_the_worker_keeps_its_database_connection_from_one_task_to_the_next(shop):
    """Celery closes a task's database connections after every task unless told otherwise: each
    drain (about ten a second under steady orders) then paid for a new PostgreSQL connection. The
    worker's connection outlives its tasks and serves the next ones (omni/celery.py)."""
    store, products, channels = shop
    changes(store, products, rounds=2)
    wait_converged(channels)
    kept = _other_backends()
    assert kept, "the worker's connection is open between its tasks"

    changes(store, products, rounds=2)
    wait_converged(channels)
    assert kept & _other_backends(), "the same connection served the later tasks"


def test_worker_killed_mid_push_loses_nothing(shop, worker):
    store, products, channels = shop
    (web, web_rx), _ = channels
    web_rx.hold.set()  # the next push is applied by the channel, then its acknowledgement hangs
    stock.stock_receive(product=products[0], location=store, quantity=5)
    wait_for(web_rx.held.is_set, timeout=WAIT, what="a push in flight")

    worker.kill()  # SIGKILL mid-push: the channel applied it, Omni never saw the ack
    web_rx.hold.clear()
    assert SyncMessage.objects.filter(channel=web, status="pending").exists()
    changes(store, products, rounds=6)  # committed while no worker runs
    worker.start()

    wait_converged(channels)
    assert web_rx.duplicates >= 1  # the unacknowledged push came again and was dropped
    assert web_rx.stale_applied == 0
    assert_sequences_match_log(web, web_rx)


def test_redis_down_while_changes_commit_then_back(shop, redis_server):
    if not redis_server.stoppable:
        pytest.skip("needs the redis-server binary to run a private Redis it may stop (never the shared one)")
    store, products, channels = shop
    changes(store, products, rounds=3)
    wait_converged(channels)

    before = OutboxEvent.objects.count()
    redis_server.stop()
    changes(store, products, rounds=9)  # commits succeed (9 receipts + 4 sales); their wake-ups are lost
    assert OutboxEvent.objects.count() == before + 13
    redis_server.start()  # empty: every queued task is gone too

    wait_converged(channels)


def test_endpoint_down_then_up(shop):
    store, products, channels = shop
    (web, web_rx), (mkt, mkt_rx) = channels
    web_rx.fail_status = mkt_rx.fail_status = 503
    changes(store, products, rounds=6)
    wait_for(lambda: SyncMessage.objects.filter(channel=web, attempts__gte=2, status="pending").exists(), timeout=WAIT,
             what="retries against the failing endpoint")
    assert web_rx.available == {}

    web_rx.fail_status = mkt_rx.fail_status = None
    wait_converged(channels)
    assert not SyncMessage.objects.filter(status="dead").exists()
