"""The outbox hook never fails a stock change, even with the broker down; the outbox keeps it."""

from __future__ import annotations

import io
import json
import socket
import time
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string

from allocation.sync import kick
from allocation.sync.drain import sync_outbox_drain
from inventory import services as stock
from inventory.models import OutboxEvent, StockLevel

from ..inventory.factories import LocationFactory, ProductFactory
from .sync_helpers import messages, sync_channel

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker_down():
    from omni.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app._pool = None
    app.conf.task_always_eager = False
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    yield
    app._pool = None
    app.conf.task_always_eager, app.conf.broker_url = saved


def test_stock_change_commits_while_the_broker_is_down_and_the_next_drain_publishes_it(broker_down, django_capture_on_commit_callbacks):
    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store])
    tee = ProductFactory(sku="TEE")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        stock.stock_receive(product=tee, location=store, quantity=3)

    assert len(callbacks) == 1  # the hook ran, failed to reach Redis, and did not raise
    assert StockLevel.objects.get(product=tee, location=store).on_hand == 3
    assert OutboxEvent.objects.filter(product=tee, processed_at__isnull=True).count() == 1
    sync_outbox_drain()
    assert messages(web) == [("TEE", 1, 3, 3, "feed")]


HOOK_RUNS: list[str] = []


def recording_hook() -> None:
    """Stands in for the configured hook, calls it, and records that it ran and returned."""
    kick()
    HOOK_RUNS.append("returned")


def test_hook_does_nothing_in_embedded_mode(settings, django_capture_on_commit_callbacks):
    """Embedded mode (no broker, tasks run eagerly): the hook runs after the commit but neither drains
    inline (that would run the whole drain inside the request) nor queues anything: the change waits
    in the outbox until ``manage.py sync_drain``, which publishes it."""
    from omni.celery import app

    assert app.conf.task_always_eager  # embedded mode, as the test session runs it
    assert import_string(settings.OMNI_OUTBOX_HOOK) is kick  # inventory's hook is the sync side's wake-up
    settings.OMNI_OUTBOX_HOOK = f"{__name__}.recording_hook"
    HOOK_RUNS.clear()
    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store])
    with django_capture_on_commit_callbacks(execute=True):
        stock.stock_receive(product=ProductFactory(sku="TEE"), location=store, quantity=1)

    assert HOOK_RUNS == ["returned"]  # the hook ran once, after the commit, and did not raise ...
    # ... and did not drain inline: an eager drain (the hook queueing sync_drain) would have processed it
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 1
    assert messages(web) == []
    call_command("sync_drain", stdout=io.StringIO())
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 0
    assert messages(web) == [("TEE", 1, 1, 1, "feed")]


@pytest.fixture
def real_broker():
    """The Redis of this test run as the broker (skipped without one); the sync queue emptied after."""
    import os

    from omni.celery import app

    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("needs REDIS_URL")
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app._pool = None
    app.conf.task_always_eager = False
    app.conf.broker_url = url
    from allocation.sync import trigger

    client = trigger._redis()
    client.delete(trigger.FOLLOWUP_KEY, trigger.PENDING_KEY, "sync")
    trigger._drain_due_at = 0.0  # this process knows of no queued drain
    yield client
    trigger._drain_due_at = 0.0
    client.delete(trigger.FOLLOWUP_KEY, trigger.PENDING_KEY, "sync")
    app._pool = None
    app.conf.task_always_eager, app.conf.broker_url = saved


def _queued(client) -> list[dict]:
    """The headers (task id, eta …) of the tasks waiting in the sync queue."""
    return [json.loads(raw)["headers"] for raw in client.lrange("sync", 0, -1)]


def test_a_follow_up_drain_waits_a_micro_batch_and_is_not_queued_behind_a_queued_drain(real_broker):
    from allocation.sync.trigger import FOLLOWUP_KEY, PENDING_KEY, followup_schedule

    real_broker.set(PENDING_KEY, b"queued-drain", px=5000)  # a commit queued a drain that has not started
    followup_schedule(0.01)
    assert _queued(real_broker) == []  # that drain schedules the next follow-up itself
    assert real_broker.get(PENDING_KEY) == b"queued-drain"

    real_broker.delete(PENDING_KEY)
    started = time.monotonic()
    followup_schedule(1.5)  # the earliest window closes in 1.5 s: a follow-up then
    ttl = real_broker.pttl(FOLLOWUP_KEY)
    # (the mark was set within the call: a process's first publish can take over 100 ms on a busy machine)
    assert 1500 - (time.monotonic() - started) * 1000 - 2 <= ttl <= 1500
    assert len(_queued(real_broker)) == 1


def test_a_follow_up_due_within_a_micro_batch_is_the_drain_the_next_commit_would_queue(real_broker):
    """Under steady orders a window closes every few milliseconds: the follow-up (a micro-batch
    later) holds the commits' mark, so the commits meanwhile queue no second drain — it reads them."""
    from allocation.sync.trigger import PENDING_KEY, drain_wake, followup_schedule

    followup_schedule(0.01)  # a window closing in 10 ms: the follow-up comes a micro-batch later
    [followup] = _queued(real_broker)
    assert real_broker.get(PENDING_KEY).decode().split(":")[1] == followup["id"]  # "<eta ms>:<task id>"
    eta = datetime.fromisoformat(followup["eta"])
    assert timedelta(milliseconds=50) < eta - timezone.now() <= timedelta(milliseconds=100)

    drain_wake()  # a stock change commits meanwhile
    drain_wake()
    assert _queued(real_broker) == [followup]


def test_a_drain_releases_only_the_wake_up_mark_that_names_it(real_broker):
    """A drain that did not queue the mark (a follow-up queued earlier, a retry) leaves it: the
    commit's own drain is still queued, and a second drain for the commits after it would only
    start a second chain of drains (each re-arming the mark for one more, for as long as orders
    come in)."""
    from allocation.sync import trigger
    from allocation.sync.trigger import PENDING_KEY, drain_started, drain_wake

    drain_wake()
    [woken] = _queued(real_broker)
    drain_started("another-drain")
    trigger._drain_due_at = 0.0  # (as a commit in another process, which asks Redis)
    drain_wake()  # a commit while the woken drain is still queued: nothing more to queue
    assert _queued(real_broker) == [woken]

    drain_started(woken["id"])  # the woken drain starts: the next commit queues the next drain
    assert not real_broker.exists(PENDING_KEY)
    trigger._drain_due_at = 0.0
    drain_wake()
    assert len(_queued(real_broker)) == 2


def queued_drain_etas(client) -> list[float]:
    """The ETAs (epoch seconds) of the drains waiting in the broker's sync queue."""
    import json
    from datetime import datetime

    etas = []
    for raw in client.lrange("sync", 0, -1):
        headers = json.loads(raw)["headers"]
        assert headers["task"] == "allocation.sync.tasks.sync_drain"
        etas.append(datetime.fromisoformat(headers["eta"]).timestamp())
    return etas


def test_commits_before_the_queued_drains_eta_queue_nothing_more_and_skip_redis(real_broker, settings):
    from allocation.sync.trigger import PENDING_KEY, drain_wake

    settings.OMNI_SYNC_MICRO_BATCH_MS = 2000
    settings.OMNI_SYNC_WAKE_MARGIN_MS = 25
    drain_wake()  # the first commit queues a drain for 2 s from now; the mark holds its ETA
    [eta] = queued_drain_etas(real_broker)
    marked = int(real_broker.get(PENDING_KEY).split(b":")[0]) / 1000  # "<eta ms>:<task id>"
    assert marked <= eta < marked + 0.05  # the worker holds the drain until at least the marked ETA

    real_broker.delete(PENDING_KEY)  # had the next commit asked Redis, it would have queued a second drain
    for _ in range(5):
        drain_wake()
    assert not real_broker.exists(PENDING_KEY)
    assert queued_drain_etas(real_broker) == [eta]  # the queued drain reads the outbox after these commits


def test_a_commit_within_the_margin_of_the_eta_asks_redis_again(real_broker, settings):
    from allocation.sync.trigger import PENDING_KEY, drain_wake

    settings.OMNI_SYNC_MICRO_BATCH_MS = 2000
    settings.OMNI_SYNC_WAKE_MARGIN_MS = 2000  # every commit is "too close" to the ETA: no shortcut
    drain_wake()
    real_broker.delete(PENDING_KEY)
    drain_wake()
    assert len(queued_drain_etas(real_broker)) == 2


def test_the_eta_of_a_drain_another_process_queued_comes_with_the_mark(real_broker, settings):
    from allocation.sync.trigger import PENDING_KEY, drain_wake

    settings.OMNI_SYNC_MICRO_BATCH_MS = 100
    settings.OMNI_SYNC_WAKE_MARGIN_MS = 25
    real_broker.set(PENDING_KEY, b"1", px=5000)  # a mark without an ETA says only "queued, not started"
    drain_wake()
    real_broker.delete(PENDING_KEY)
    drain_wake()
    assert len(queued_drain_etas(real_broker)) == 1  # nothing was assumed from the mark without an ETA

    real_broker.delete("sync", PENDING_KEY)
    other_eta_ms = int((time.time() + 2) * 1000)
    real_broker.set(PENDING_KEY, f"{other_eta_ms}:other-task".encode(), px=5000)  # another process queued a drain
    drain_wake()
    assert real_broker.get(PENDING_KEY) == f"{other_eta_ms}:other-task".encode()  # left as it was
    real_broker.delete(PENDING_KEY)
    drain_wake()
    assert queued_drain_etas(real_broker) == []  # that drain, due in 2 s, will see this commit


def _comparable(raw: bytes) -> dict:
    """A message as the broker holds it, less what differs from one publish to the next (ids, ETA,
    kombu's delivery tag)."""
    message = json.loads(raw)
    message["properties"].pop("delivery_tag")
    message["properties"].pop("correlation_id")
    for key in ("id", "root_id", "eta"):
        message["headers"].pop(key)
    return message


def test_a_wake_up_publishes_through_a_kept_producer_the_message_celerys_pool_would(real_broker, monkeypatch):
    """The drain's publish goes through one producer kept per process, whose channel keeps its Redis
    client (kombu's made a new ``redis.Redis`` for every ``LPUSH``): the same message, ids aside."""
    import redis

    from allocation.sync import trigger
    from allocation.sync.tasks import sync_drain

    sync_drain.apply_async(args=[], countdown=0.1, retry=False, task_id="a" * 32)  # through Celery's pool
    trigger._publish(sync_drain, args=[], countdown=0.1, task_id="b" * 32)
    made = []
    real_init = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        made.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    for task_id in ("c" * 32, "d" * 32, "e" * 32):
        trigger._publish(sync_drain, args=[], countdown=0.1, task_id=task_id)
    assert made == []  # no client built per publish once the producer is kept

    pooled, *kept = [real_broker.lindex("sync", i) for i in range(-1, -6, -1)]  # oldest first
    assert [json.loads(raw)["headers"]["id"] for raw in [pooled, *kept]] == [c * 32 for c in "abcde"]
    assert all(_comparable(raw) == _comparable(pooled) for raw in kept)
    etas = [datetime.fromisoformat(json.loads(raw)["headers"]["eta"]) for raw in [pooled, *kept]]
    assert all(timedelta(0) < eta - timezone.now() <= timedelta(milliseconds=100) for eta in etas)


def test_the_kept_producer_publishes_for_many_threads_at_once(real_broker):
    from concurrent.futures import ThreadPoolExecutor

    from allocation.sync import trigger
    from allocation.sync.tasks import sync_drain

    ids = [f"{i:032x}" for i in range(160)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda task_id: trigger._publish(sync_drain, args=[], countdown=0, task_id=task_id), ids))
    assert sorted(json.loads(raw)["headers"]["id"] for raw in real_broker.lrange("sync", 0, -1)) == ids


def test_a_failed_publish_drops_the_kept_producer_and_the_next_one_publishes(real_broker, monkeypatch):
    from kombu import Producer
    from kombu.exceptions import OperationalError

    from allocation.sync import trigger
    from allocation.sync.tasks import sync_drain

    trigger._publish(sync_drain, args=[], countdown=0, task_id="a" * 32)
    first = trigger._producer.cache_info().currsize
    monkeypatch.setattr(Producer, "publish", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("broker gone")))
    with pytest.raises(OperationalError, match="broker gone"):  # as Celery raises it through its pool
        trigger._publish(sync_drain, args=[], countdown=0, task_id="b" * 32)
    assert first >= 1 and trigger._producer.cache_info().currsize == 0
    monkeypatch.undo()
    trigger._publish(sync_drain, args=[], countdown=0, task_id="c" * 32)
    assert [json.loads(raw)["headers"]["id"] for raw in real_broker.lrange("sync", 0, -1)] == ["c" * 32, "a" * 32]


def test_the_mark_is_set_and_read_as_redis_pys_set_would(real_broker):
    from allocation.sync import trigger

    key = "omni:test:mark"
    real_broker.delete(key)
    try:
        assert trigger._set_mark(real_broker, key, b"1000:first", 5000) == (True, None)
        assert 4900 < real_broker.pttl(key) <= 5000
        assert trigger._set_mark(real_broker, key, b"2000:second", 5000) == (False, b"1000:first")
        assert real_broker.get(key) == b"1000:first"
        assert real_broker.set(key, b"3000:third", nx=True, px=5000, get=True) == b"1000:first"  # redis-py's own
        real_broker.delete(key)
        assert real_broker.set(key, b"3000:third", nx=True, px=5000, get=True) is None
    finally:
        real_broker.delete(key)


def test_a_process_forked_while_a_publish_held_the_lock_can_publish():
    import os

    from allocation.sync import trigger

    with trigger._producer_lock:  # another thread publishing when the process forks
        pid = os.fork()
        if pid == 0:  # the child: its lock is a new one
            os._exit(0 if trigger._producer_lock.acquire(timeout=1) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _drain_statements(queries: list[dict]) -> list[str]:
    """The round trips (a ``PREPARE`` travels in front of its first ``EXECUTE``: that one counts)."""
    return [q["sql"] for q in queries
            if "; EXECUTE " in q["sql"] or not q["sql"].startswith(("PREPARE ", "SET plan_cache_mode", "DEALLOCATE ALL"))]


def test_the_drain_task_leaves_the_recheck_to_the_drains_commits_queue_only_where_they_queue_one(real_broker, settings):
    """With a broker every outbox commit queues a drain (or finds one not yet started), so the
    task's drain ends at its unlock: the re-check and its second pass drained rows ahead of the
    drain their commits had queued. Eager tasks, or another outbox hook, queue none: the re-check
    stays there."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from allocation.sync.tasks import sync_drain
    from allocation.sync.trigger import drains_woken_by_commits
    from omni.celery import app

    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store])
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=3)

    assert drains_woken_by_commits()
    with CaptureQueriesContext(connection) as ctx:
        assert sync_drain.run() == 1
    executed = _drain_statements(ctx.captured_queries)
    assert "pg_advisory_unlock" in executed[-1], executed  # no outbox re-check after the unlock
    assert messages(web) == [("TEE", 1, 3, 3, "feed")]

    settings.OMNI_OUTBOX_HOOK = ""
    assert not drains_woken_by_commits()
    settings.OMNI_OUTBOX_HOOK = "allocation.sync.kick"
    app.conf.task_always_eager = True
    assert not drains_woken_by_commits()
    stock.stock_receive(product=tee, location=store, quantity=1)
    with CaptureQueriesContext(connection) as ctx:
        assert sync_drain.run() == 1
    executed = _drain_statements(ctx.captured_queries)
    assert "pg_advisory_unlock" in executed[-2] and "omni_outbox_" in executed[-1], executed  # the re-check, as before
    app.conf.task_always_eager = False


def _hold_the_drain_lock():
    import psycopg
    from django.db import connection

    from allocation.sync.locks import DRAIN_LOCK

    s = connection.settings_dict
    other = psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
                            dbname=connection.connection.info.dbname, autocommit=True)
    other.execute("SELECT pg_advisory_lock(%s, %s)", list(DRAIN_LOCK))
    return other


def test_a_drain_task_or_sweep_that_finds_another_drain_at_work_queues_the_next_drain(real_broker):
    """The drain at work may end without a re-check (the task's), so a drain or a sweep turned
    away by its lock queues one more drain, deduplicated by the commits' mark: the change committed
    before it is read by that one, never left for the periodic sweep."""
    from django.db import connection

    from allocation.sync.tasks import sync_drain, sync_sweep
    from allocation.sync.trigger import PENDING_KEY

    if connection.vendor != "postgresql":
        pytest.skip("the drain's lock is PostgreSQL's")
    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store])
    stock.stock_receive(product=ProductFactory(sku="TEE"), location=store, quantity=3)
    other = _hold_the_drain_lock()
    try:
        assert sync_drain.run() == 0  # turned away
        [queued] = _queued(real_broker)
        assert real_broker.get(PENDING_KEY).decode().split(":")[1] == queued["id"]
        assert sync_sweep.run() == 0  # turned away too: the drain just queued will read the outbox
        assert _queued(real_broker) == [queued]
        real_broker.delete(PENDING_KEY, "sync")
        assert sync_sweep.run() == 0
        [queued] = _queued(real_broker)
        assert real_broker.get(PENDING_KEY).decode().split(":")[1] == queued["id"]
    finally:
        other.execute("SELECT pg_advisory_unlock_all()")  # at once: a closed session's locks go when its backend exits
        other.close()
    assert sync_drain.run() == 1  # the queued drain, once the lock is free
    assert messages(web) == [("TEE", 1, 3, 3, "feed")]


def test_a_drain_turned_away_with_no_micro_batch_retries_no_sooner_than_50_ms(real_broker, settings):
    """No spin while a long drain holds the lock: the next drain is queued 50 ms out at the soonest."""
    from django.db import connection

    from allocation.sync.tasks import sync_drain

    if connection.vendor != "postgresql":
        pytest.skip("the drain's lock is PostgreSQL's")
    settings.OMNI_SYNC_MICRO_BATCH_MS = 0
    other = _hold_the_drain_lock()
    try:
        before = timezone.now()
        assert sync_drain.run() == 0
        [queued] = _queued(real_broker)
        assert datetime.fromisoformat(queued["eta"]) - before >= timedelta(milliseconds=50)
    finally:
        other.execute("SELECT pg_advisory_unlock_all()")
        other.close()
