"""Waking the drain cheaply and safely after a commit.

One Redis ``SET NX PX`` marks "a drain is queued and has not started"; only the caller that sets
it enqueues the task, so a burst of 200 commits enqueues one drain, not 200. The drain deletes the
mark *before* it reads the outbox, so a change committed after that read sets the mark again and
queues the next drain: no change waits for the sweep unless Redis or the broker is down, and then
nothing is lost either, because the outbox rows stay until a drain processes them.

The mark holds the id of the task it queued, and a task deletes the mark only if it is its own.
Any drain used to delete it: a drain that did not own the mark (a follow-up, one the sweep or a
retry ran) let the next commit queue a second drain while the mark's own was still queued, and
each of the two then re-armed the mark for one more — under steady orders these chains never
ended, and each added ~10 drains a second (most of them finding the lock taken, or nothing to do).
"""

from __future__ import annotations

import logging
import uuid
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


def _enqueue_once(key: str, ttl_ms: int, task, *, args: list | None = None, countdown: float = 0) -> None:
    """Queue ``task`` unless a queued one (marked by ``key`` in Redis) will do the same work. The
    mark holds the new task's id (``_mark_release``). If queueing fails the mark is removed, so the
    next wake-up tries again; errors are raised."""
    client = _redis()
    task_id = uuid.uuid4().hex
    if client is not None and not client.set(key, task_id, nx=True, px=ttl_ms):
        return
    try:
        task.apply_async(args=args or [], countdown=countdown, retry=False, task_id=task_id)
    except Exception:
        if client is not None:
            _mark_release(client, key, task_id)
        raise


# Deletes the mark only if it still names this task: a mark set for another queued task stays.
_RELEASE_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@lru_cache(maxsize=4)
def _release_script(client):
    return client.register_script(_RELEASE_LUA)


def _mark_release(client, key: str, task_id: str | None) -> None:
    if task_id:
        _release_script(client)(keys=[key], args=[task_id])


def drain_wake() -> None:
    """The outbox hook. Never raises: the outbox row is committed whatever happens here."""
    from omni.celery import app

    if app.conf.task_always_eager:
        return  # embedded mode: no broker; the drain runs from the sweep/commands
    try:
        from allocation.sync.tasks import sync_drain

        # a drain already queued will see this commit
        _enqueue_once(PENDING_KEY, PENDING_TTL_MS, sync_drain, countdown=_micro_batch_seconds())
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
