"""Waking the drain cheaply and safely after a commit.

One Redis ``SET NX PX`` marks "a drain is queued and has not started"; only the caller that sets
it enqueues the task, so a burst of 200 commits enqueues one drain, not 200. The drain deletes the
mark *before* it reads the outbox, so a change committed after that read sets the mark again and
queues the next drain: no change waits for the sweep unless Redis or the broker is down, and then
nothing is lost either, because the outbox rows stay until a drain processes them.

The mark holds the queued task's ETA (epoch milliseconds) and id, ``<eta>:<task id>``, and the
``SET … NX GET`` that tries to set it answers the ETA of the drain already queued. A drain runs no sooner than its ETA (the worker
holds it until then), so it reads the outbox after every commit made before that ETA: a process that
knows of a queued drain skips Redis for its commits until shortly before that ETA (``_drain_due_at``,
per process; the margin ``OMNI_SYNC_WAKE_MARGIN_MS`` covers the clocks of web and worker machines
drifting apart). Under load that saves most of the round trips: one per process and micro-batch.

A task deletes the mark only if it names that task.
Any drain used to delete it: a drain that did not own the mark (a follow-up, one the sweep or a
retry ran) let the next commit queue a second drain while the mark's own was still queued, and
each of the two then re-armed the mark for one more — under steady orders these chains never
ended, and each added ~10 drains a second (most of them finding the lock taken, or nothing to do).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager
from functools import lru_cache

logger = logging.getLogger(__name__)

PENDING_KEY = "omni:sync:drain-pending"
FOLLOWUP_KEY = "omni:sync:drain-followup"
PENDING_TTL_MS = 5_000  # if the queued drain is lost, a later commit may queue another after this


@lru_cache(maxsize=4)
def _client(url: str):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # no client-side retries: a commit must not wait on a Redis outage (the sweep catches up)
    return redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))


def _redis():
    from omni.celery import app

    url = app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    return _client(url)


def _micro_batch_seconds() -> float:
    """How long a queued drain waits so that one drain takes a burst of commits (default 100 ms:
    at 200 changes/s that is ~20 changes per drain instead of 20 drains)."""
    from django.conf import settings

    return max(getattr(settings, "OMNI_SYNC_MICRO_BATCH_MS", 100), 0) / 1000


def _wake_margin_seconds() -> float:
    """How long before a queued drain's ETA a commit stops counting on that drain (default 25 ms):
    more than web and worker clocks ever differ, less than a micro-batch."""
    from django.conf import settings

    return max(getattr(settings, "OMNI_SYNC_WAKE_MARGIN_MS", 25), 0) / 1000


_set_get_unsupported = False  # Redis < 7 refuses SET … NX GET: then the mark answers only "it exists"


def _set_mark(client, key: str, value: bytes, ttl_ms: int) -> tuple[bool, bytes | None]:
    """Set the mark unless it exists: (whether it was set, the existing mark's value if known)."""
    global _set_get_unsupported
    if not _set_get_unsupported:
        import redis

        try:
            # ``client.set(key, value, nx=True, px=ttl_ms, get=True)`` sends these very words and
            # parses the answer the same way (``get=True``: the prior value as it is), after checking
            # 14 keyword arguments and extending a list: a few µs a call (69 -> 66 µs median in a
            # tight loop; ~290-340 µs cold in an order, nearly all of it redis-py's round trip)
            prior = client.execute_command("SET", key, value, "NX", "PX", ttl_ms, "GET", get=True)
        except redis.ResponseError:
            _set_get_unsupported = True
        else:
            return prior is None, prior
    return bool(client.set(key, value, nx=True, px=ttl_ms)), None


def _mark_eta(value: bytes | None) -> float | None:
    """The ETA (epoch seconds) a mark ``<eta ms>:<task id>`` names; None for a mark without one."""
    try:
        return int(value.split(b":", 1)[0]) / 1000 if value is not None else None
    except ValueError:
        return None


def _enqueue_once(key: str, ttl_ms: int, task, *, args: list | None = None, countdown: float = 0) -> float | None:
    """Queue ``task`` unless a queued one (marked by ``key`` in Redis) will do the same work. The
    mark names the new task's ETA and id (only that task deletes it, ``_mark_release``). If queueing
    fails the mark is removed, so the next wake-up tries again; errors are raised.

    Returns the queued task's ETA in epoch seconds (a lower bound: Celery adds the countdown to its
    own, later clock reading), whether this call queued it or the mark names it; None if unknown."""
    eta_ms = int((time.time() + countdown) * 1000)
    task_id = uuid.uuid4().hex
    client = _redis()
    if client is not None:
        was_set, prior = _set_mark(client, key, f"{eta_ms}:{task_id}".encode(), ttl_ms)
        if not was_set:
            return _mark_eta(prior)
    try:
        _publish(task, args=args or [], countdown=countdown, task_id=task_id)
    except Exception:
        if client is not None:
            _mark_release(client, key, task_id)
        raise
    return eta_ms / 1000 if client is not None else None


def _publish(task, *, args: list, countdown: float, task_id: str) -> None:
    """``task.apply_async`` through a producer kept per process (and broker URL) whose channel keeps
    one Redis client: Celery builds and sends the very same message, signals included.

    Through Celery's producer pool each publish acquired a pooled producer and kombu's Redis channel
    built a new ``redis.Redis`` client for its ``LPUSH`` (the client's ~170 response callbacks set up
    each time; its connection pool is the channel's and is kept). CPU a publish, in a tight loop
    (median of 15 rounds, alternating): 876 -> 636 µs; in an order (``prof.py``, five pairs):
    1.16-1.54 -> 0.86-1.17 ms. The rest is Celery's own (the message, routing, its configuration
    read ~8 times, the queue's declaration checked). Other brokers than ``redis://`` use the pool."""
    from omni.celery import app

    url = app.conf.broker_write_url or ""
    if not url.startswith("redis://"):
        task.apply_async(args=args, countdown=countdown, retry=False, task_id=task_id)
        return
    with _producer_lock:  # a kombu producer and channel serve one publish at a time; gunicorn runs threads
        producer = _producer(url, os.getpid())  # the pid: a forked child makes its own (sockets are not shared)
        try:
            task.apply_async(args=args, countdown=countdown, retry=False, task_id=task_id, producer=producer)
        except Exception:
            _producer.cache_clear()  # the next publish starts from a new connection, as a pooled one would
            try:
                producer.connection.close()
            except Exception:  # noqa: BLE001 - the publish's own error is the one to raise
                pass
            raise


_producer_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # a child forked while another thread held the lock would otherwise never publish again
    global _producer_lock
    _producer_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


@lru_cache(maxsize=4)
def _producer(url: str, pid: int):
    from kombu.transport import redis as kombu_redis

    from omni.celery import app

    class KeptClientChannel(kombu_redis.Channel):
        """kombu's Redis channel, keeping the (thread-safe) client it builds for publishing."""

        _kept_client = None

        @contextmanager
        def conn_or_acquire(self, client=None):
            # kombu's yields a new client whenever none is given (each ``LPUSH``); this one keeps
            # the first (made by kombu, on the channel's connection pool) for the channel's life
            if client is None:
                if self._kept_client is None:
                    with super().conn_or_acquire() as made:
                        self._kept_client = made
                client = self._kept_client
            yield client

    class Transport(kombu_redis.Transport):
        Channel = KeptClientChannel

    # the connection Celery's own producer pool would make (transport options included), but ours
    return app.amqp.Producer(app.connection_for_write(url, transport=Transport))


# Per process: until this time (epoch seconds) a queued drain is certain to read the outbox after
# the current commit (its ETA minus the margin), so a commit's wake-up needs no Redis round trip.
_drain_due_at = 0.0


# Deletes the mark only if it still names this task (``<eta>:<task id>``): a mark set for another
# queued task stays.
_RELEASE_LUA = ("local v = redis.call('GET', KEYS[1]) "
                "if v and string.sub(v, -string.len(ARGV[1]) - 1) == ':' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end "
                "return 0")


@lru_cache(maxsize=4)
def _release_script(client):
    return client.register_script(_RELEASE_LUA)


def _mark_release(client, key: str, task_id: str | None) -> None:
    if task_id:
        _release_script(client)(keys=[key], args=[task_id])


def drain_wake() -> None:
    """The outbox hook. Never raises: the outbox row is committed whatever happens here."""
    global _drain_due_at
    if time.time() < _drain_due_at:
        # the drain this process knows of is queued until after now: it will see this commit (first,
        # before Celery's configuration is read: under load many commits stop here; a
        # process with eager tasks never queues one, so its time stays 0)
        return
    from omni.celery import app

    if app.conf.task_always_eager:
        return  # embedded mode: no broker; the drain runs from the sweep/commands
    try:
        from allocation.sync.tasks import sync_drain

        # a drain already queued will see this commit
        eta = _enqueue_once(PENDING_KEY, PENDING_TTL_MS, sync_drain, countdown=_micro_batch_seconds())
        if eta is not None:
            _drain_due_at = eta - _wake_margin_seconds()
    except Exception as exc:  # noqa: BLE001 - broker down: the sweep catches up
        logger.warning("sync: could not queue a drain (%s); the sweep will pick the change up", exc)


def drain_started(task_id: str | None) -> None:
    """Called by the drain task (its id) before it reads the outbox (see the module docstring)."""
    try:
        client = _redis()
        if client is not None:
            _mark_release(client, PENDING_KEY, task_id)
    except Exception:  # noqa: BLE001
        pass


def drains_woken_by_commits() -> bool:
    """Whether every outbox commit queues a drain (or finds one queued that has not started): the
    outbox hook is this package's ``kick`` and tasks do not run eagerly (``drain_wake`` queues
    nothing there)."""
    from django.conf import settings

    from omni.celery import app

    return getattr(settings, "OMNI_OUTBOX_HOOK", "") == "allocation.sync.kick" and not app.conf.task_always_eager


def followup_schedule(countdown: float) -> None:
    """Queue one drain for when the earliest coalescing window closes (deduplicated), and not
    sooner than a micro-batch from now: every SKU has its own window, so under steady load one
    closes every few milliseconds, and a follow-up as early as 50 ms doubled the drains (each a
    task and ~10 statements) to publish a few SKUs each. A window so closes at most one micro-batch
    late (100 ms on a 2 s window)."""
    from omni.celery import app

    if app.conf.task_always_eager:
        return
    micro_batch = _micro_batch_seconds()
    countdown = max(countdown, micro_batch)
    try:
        from allocation.sync.tasks import sync_drain

        if countdown <= micro_batch:
            # Due within a micro-batch (nearly always under steady load): the follow-up is the
            # queued drain a commit would have woken — it takes the commits' mark, so a commit
            # meanwhile queues no second drain; if a commit's drain is already queued (the mark is
            # set), that one runs within a micro-batch and schedules the next follow-up itself.
            _enqueue_once(PENDING_KEY, PENDING_TTL_MS, sync_drain, countdown=countdown)
            return
        client = _redis()
        if client is not None and client.exists(PENDING_KEY):
            return  # a drain woken by a commit is queued: it schedules the next follow-up itself
        _enqueue_once(FOLLOWUP_KEY, max(int(countdown * 1000), 50), sync_drain, countdown=countdown)
    except Exception:  # noqa: BLE001
        logger.warning("sync: could not schedule the follow-up drain; the sweep will", exc_info=False)


PUSH_KEY = "omni:sync:push-pending:{}"


def push_wake(channel_ids: list[int], *, countdown: float = 0) -> None:
    """Queue one push per channel (deduplicated like the drain: a queued push that has not started
    absorbs further wake-ups; it deletes its mark when it starts)."""
    from omni.celery import app

    if app.conf.task_always_eager or not channel_ids:
        return
    try:
        from allocation.sync.tasks import sync_push

        for channel_id in channel_ids:
            _enqueue_once(PUSH_KEY.format(channel_id), int(countdown * 1000) + 5_000, sync_push, args=[channel_id],
                          countdown=countdown)
    except Exception as exc:  # noqa: BLE001
        logger.warning("sync: could not queue a push (%s); the sweep will", exc)


def push_started(channel_id: int, task_id: str | None) -> None:
    try:
        client = _redis()
        if client is not None:
            _mark_release(client, PUSH_KEY.format(channel_id), task_id)
    except Exception:  # noqa: BLE001
        pass
