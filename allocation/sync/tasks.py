"""Celery tasks of channel sync. Each is a few lines over a service and safe to run twice.

They are routed to the ``sync`` queue (settings.CELERY_TASK_ROUTES) and idempotent — a drain
takes only unprocessed outbox rows under SKIP LOCKED, a push resends messages whose sequence a
receiver drops if already applied — so ``acks_late`` is safe for all of them, and
with ``task_reject_on_worker_lost`` a task whose worker dies is redelivered. Retries (exponential
backoff, full jitter) only for transient errors: a database blip, a broker blip, an endpoint that
timed out or answered 5xx/408/429. A 4xx is permanent and dead-letters at once.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError

from .drain import sync_drain_run, sync_log_prune
from .drain import sync_sweep as sweep
from .publish import sync_batch_due
from .publish import sync_full_resync as resync
from .push import sync_channel_push
from .trigger import drain_started, drains_woken_by_commits, followup_schedule, push_started, push_wake

logger = logging.getLogger(__name__)

TRANSIENT_DB = (OperationalError, InterfaceError)
# A drain turned away by the drain lock queues the next one no sooner than this (or a micro-batch,
# the later): with no micro-batch configured it would otherwise spin while a long drain holds the lock.
BUSY_RETRY_SECONDS = 0.05


@shared_task(bind=True, acks_late=True, autoretry_for=TRANSIENT_DB, retry_backoff=1, retry_backoff_max=60,
             retry_jitter=True, max_retries=10, ignore_result=True)
def sync_drain(self) -> int:
    drain_started(self.request.id)  # releases the wake-up mark if this task is the one it names
    # No wake-up per published channel here: a publish whose messages have an endpoint to go to
    # wakes that channel's pusher itself, on commit (``sync_channel_publish``); the others (feed
    # only, no endpoint) have nothing to push — waking them cost a push task per drain.
    # Every commit wakes a drain of its own (the mark, ``trigger``) unless tasks run eagerly: this
    # drain skips the re-check after its unlock, and when it finds another drain at work it queues
    # the next one (deduplicated by the mark) instead of counting on that one's re-check.
    run = sync_drain_run(recheck=not drains_woken_by_commits())
    if run.busy:
        followup_schedule(BUSY_RETRY_SECONDS)
    elif run.next_due_in is not None:
        followup_schedule(run.next_due_in)
    return run.events


def _push_now(channel_ids: list[int]) -> None:
    """Push inline (saves a queue hop for latency); a transient failure hands over to sync_push."""
    for channel_id in channel_ids:
        result = sync_channel_push(channel_id=channel_id)
        if result.retry_in is not None:
            push_wake([channel_id], countdown=result.retry_in)
        elif result.busy:  # another pusher holds the channel; make sure our messages are not left behind
            push_wake([channel_id], countdown=0.25)


@shared_task(bind=True, acks_late=True, autoretry_for=TRANSIENT_DB, retry_backoff=1, retry_backoff_max=60,
             retry_jitter=True, max_retries=10, ignore_result=True)
def sync_push(self, channel_id: int) -> int:
    """Push a channel's pending messages. An endpoint failure is retried from the messages' own
    backoff (exponential with jitter, stored with them, so it survives a lost worker); the
    database's transient errors through Celery's autoretry."""
    push_started(channel_id, self.request.id)
    result = sync_channel_push(channel_id=channel_id)
    if result.retry_in is not None:
        push_wake([channel_id], countdown=result.retry_in)
    elif result.busy:  # another pusher holds the channel: look again shortly so nothing waits for the sweep
        push_wake([channel_id], countdown=0.25)
    return result.sent


@shared_task(acks_late=True, autoretry_for=TRANSIENT_DB, retry_backoff=1, retry_backoff_max=60, retry_jitter=True,
             max_retries=5, ignore_result=True)
def sync_sweep() -> int:
    result = sweep(on_published=push_wake)
    _push_now(result.pushed_channels)
    if result.busy:  # the drain at work may skip its re-check (``sync_drain``): one more drain reads the outbox
        followup_schedule(BUSY_RETRY_SECONDS)
    elif result.next_due_in is not None:
        followup_schedule(result.next_due_in)
    return result.drained


@shared_task(acks_late=True, autoretry_for=TRANSIENT_DB, retry_backoff=1, retry_backoff_max=60, retry_jitter=True,
             max_retries=5, ignore_result=True)
def sync_batch(full: bool = False) -> int:
    channel_ids = sync_batch_due(full=full)
    _push_now(channel_ids)
    return len(channel_ids)


@shared_task(acks_late=True, autoretry_for=TRANSIENT_DB, retry_backoff=1, retry_backoff_max=60, retry_jitter=True,
             max_retries=5, ignore_result=True)
def sync_full_resync() -> int:
    channel_ids = resync()
    _push_now(channel_ids)
    return len(channel_ids)


@shared_task(acks_late=True, autoretry_for=TRANSIENT_DB, retry_backoff=1, retry_backoff_max=60, retry_jitter=True,
             max_retries=5, ignore_result=True)
def sync_prune() -> int:
    return sum(sync_log_prune())


@worker_ready.connect
def _sync_sweep_on_start(sender=None, **kwargs) -> None:
    """A (re)started worker first catches up on whatever a dead worker or a down broker left."""
    try:
        sync_sweep.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - beat's periodic sweep covers it
        logger.warning("sync: could not queue the start-up sweep")
