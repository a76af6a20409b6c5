"""Pushing a channel's pending messages to its webhook, in order; backoff, dead letters, resend."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from allocation.channels.models import Channel
from inventory.alerts.services import alert_raise
from inventory.models import Product

from .locks import PUSH_LOCK_CLASS, session_lock, session_unlock
from .models import ChannelSync, MessageKind, MessageStatus, SyncMessage
from .webhook import PermanentPushError, TransientPushError, webhook_post

logger = logging.getLogger(__name__)

PUSH_BATCH = 500
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 300.0


@dataclass
class PushResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    busy: bool = False
    retry_in: float | None = None  # a transient failure: try again after this many seconds
    error: str = ""


def _backoff(attempts: int) -> float:
    """Exponential backoff with full jitter (as Celery's retry_backoff/retry_jitter)."""
    ceiling = min(RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0)), RETRY_MAX_SECONDS)
    return random.uniform(ceiling / 2, ceiling)


def _message_body(channel: Channel, messages: list[SyncMessage], skus: dict[int, str]) -> dict[str, Any]:
    updates = []
    for m in messages:
        if m.kind == MessageKind.EVENT:
            updates.append({"type": "event", "id": m.pk, "event": m.event, "sequence": m.sequence, "payload": m.payload,
                            "changed_at": m.changed_at.isoformat()})
        else:
            assert m.product_id is not None, "an availability message is about one SKU"
            updates.append({"type": "availability", "id": m.pk, "sku": skus[m.product_id], "sequence": m.sequence,
                            "available": m.available, "delta": m.delta, "changed_at": m.changed_at.isoformat()})
    return {"channel": channel.code, "sent_at": timezone.now().isoformat(), "updates": updates}


@dataclass(frozen=True)
class _Batch:
    """What one POST carries, read (claimed) without a transaction left open."""

    cfg: ChannelSync
    messages: list[SyncMessage]
    body: dict[str, Any]
    attempts: int

    @property
    def ids(self) -> list[int]:
        return [m.pk for m in self.messages]


def _claim(*, channel_id: int, ignore_backoff: bool, result: PushResult) -> _Batch | None:
    """The next batch of the channel's pending messages, in id order; ``None`` when there is
    nothing to send now (no endpoint, nothing pending, or the endpoint is in backoff). The caller
    holds the channel's push lock, so no other pusher claims the same messages."""
    cfg = ChannelSync.objects.select_related("channel").filter(channel_id=channel_id).first()
    if cfg is None or not cfg.url or not cfg.is_active:
        return None
    pending = SyncMessage.objects.filter(channel_id=channel_id, status=MessageStatus.PENDING)
    if not ignore_backoff:
        backoff_until = pending.filter(next_attempt_at__gt=timezone.now()).aggregate(m=Max("next_attempt_at"))["m"]
        if backoff_until is not None:
            result.retry_in = max((backoff_until - timezone.now()).total_seconds(), 0.05)
            result.error = result.error or "endpoint in backoff"
            return None
    messages = list(pending.order_by("id")[:PUSH_BATCH])
    if not messages:
        return None
    skus = dict(Product.objects.filter(id__in={m.product_id for m in messages if m.product_id}).values_list("id", "sku"))
    return _Batch(cfg=cfg, messages=messages, body=_message_body(cfg.channel, messages, skus),
                  attempts=max(m.attempts for m in messages) + 1)


def sync_channel_push(*, channel_id: int, ignore_backoff: bool = False, max_batches: int = 50) -> PushResult:
    """POST the channel's pending messages in order; loop until none are left or a push fails.

    One pusher per channel (a PostgreSQL session advisory lock; a second pusher returns ``busy``),
    and no transaction is open while the endpoint answers: the batch is read in autocommit, the POST
    waits on the network alone, and its outcome is recorded in a short transaction of its own. A slow
    receiver so holds no row lock, no snapshot and no connection "idle in transaction": stock changes
    and publishes for the channel's SKUs commit meanwhile, and go out with the next batch.

    A failed push puts the channel's endpoint in backoff (exponential, jittered): until it has
    passed, further pushes — whether from new changes, retries or the sweep — do not hit the
    endpoint (``retry_in`` says when to come back), so ``max_attempts`` spans minutes, not a burst.
    """
    result = PushResult()
    lock = (PUSH_LOCK_CLASS, channel_id)
    if not session_lock(lock):
        result.busy = True
        return result
    try:
        for _ in range(max_batches):
            batch = _claim(channel_id=channel_id, ignore_backoff=ignore_backoff, result=result)
            if batch is None:
                return result
            try:
                webhook_post(url=batch.cfg.url, secret=batch.cfg.secret, body=batch.body, timeout=batch.cfg.timeout_seconds)
            except (TransientPushError, PermanentPushError) as exc:
                _record_failure(batch=batch, exc=exc, result=result)
                return result
            _record_ack(ids=batch.ids, messages=batch.messages, acked=timezone.now(), attempts=batch.attempts)
            result.sent += len(batch.messages)
    finally:
        session_unlock(lock)
    return result


def _record_failure(*, batch: _Batch, exc: TransientPushError | PermanentPushError, result: PushResult) -> None:
    """Back off, or dead-letter (with an alert) after ``max_attempts`` or a permanent error. Only
    messages still pending are touched: one a newer absolute figure superseded meanwhile stays so."""
    error = str(exc)[:255]
    result.error = error
    dead = isinstance(exc, PermanentPushError) or batch.attempts >= batch.cfg.max_attempts
    delay = _backoff(batch.attempts)
    code = batch.cfg.channel.code
    with transaction.atomic():
        SyncMessage.objects.filter(id__in=batch.ids, status=MessageStatus.PENDING).update(
            attempts=batch.attempts, last_error=error,
            status=MessageStatus.DEAD if dead else MessageStatus.PENDING,
            next_attempt_at=None if dead else timezone.now() + timedelta(seconds=delay),
        )
        if dead:
            alert_raise(
                kind="sync_dead_letter",
                message=f"{len(batch.ids)} update(s) for channel {code} dead-lettered after {batch.attempts} attempt(s): {error}",
                details={"channel": code, "messages": batch.ids[:500]},
            )
    if dead:
        result.dead += len(batch.ids)
        logger.error("sync: %d message(s) for channel %s dead-lettered: %s", len(batch.ids), code, error)
    else:
        result.failed += len(batch.ids)
        result.retry_in = delay


def _record_ack(*, ids: list[int], messages: list[SyncMessage], acked: datetime, attempts: int) -> None:
    """Acknowledged: sent, with the latency from the oldest stock change each message carries."""
    if connection.vendor == "postgresql":  # one statement: its own short transaction
        table = SyncMessage._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, acked_at = %s, attempts = %s, last_error = '', next_attempt_at = NULL, "  # noqa: S608
                f"latency_ms = GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (%s - changed_at)) * 1000))::integer "
                f"WHERE id = ANY(%s)",
                [MessageStatus.SENT, acked, attempts, acked, ids],
            )
        return
    for m in messages:
        m.status = MessageStatus.SENT
        m.acked_at = acked
        m.attempts = attempts
        m.last_error = ""
        m.next_attempt_at = None
        m.latency_ms = max(int((acked - m.changed_at).total_seconds() * 1000), 0)
    with transaction.atomic():
        SyncMessage.objects.bulk_update(messages, ["status", "acked_at", "attempts", "last_error", "next_attempt_at", "latency_ms"])


def sync_messages_resend(*, message_ids: Iterable[int]) -> int:
    """Put dead-lettered messages back in the queue (admin action). A receiver drops any whose
    sequence it has already passed, so resending is always safe."""
    with transaction.atomic():
        qs = SyncMessage.objects.filter(id__in=list(message_ids), status=MessageStatus.DEAD)
        channel_ids = sorted(set(qs.values_list("channel_id", flat=True)))
        count = qs.update(status=MessageStatus.PENDING, attempts=0, next_attempt_at=None, last_error="")
        if count:
            from .trigger import push_wake

            transaction.on_commit(lambda: push_wake(channel_ids))
    return count
