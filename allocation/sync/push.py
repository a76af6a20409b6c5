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


def _push_lock(channel_id: int) -> bool:
    """One pusher per channel at a time (keeps per-SKU order). PostgreSQL advisory lock held
    until the end of the transaction; SQLite runs a single writer anyway."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [0x5E7C, channel_id])
        return bool(cursor.fetchone()[0])


def _message_body(channel: Channel, messages: list[SyncMessage], skus: dict[int, str]) -> dict[str, Any]:
    updates = []
    for m in messages:
        if m.kind == MessageKind.EVENT:
            updates.append({"type": "event", "id": m.pk, "event": m.event, "sequence": m.sequence, "payload": m.payload,
                            "changed_at": m.changed_at.isoformat()})
        else:
            updates.append({"type": "availability", "id": m.pk, "sku": skus[m.product_id], "sequence": m.sequence,
                            "available": m.available, "delta": m.delta, "changed_at": m.changed_at.isoformat()})
    return {"channel": channel.code, "sent_at": timezone.now().isoformat(), "updates": updates}


def sync_channel_push(*, channel_id: int, ignore_backoff: bool = False, max_batches: int = 50) -> PushResult:
    """POST the channel's pending messages in order; loop until none are left or a push fails.

    A failed push puts the channel's endpoint in backoff (exponential, jittered): until it has
    passed, further pushes — whether from new changes, retries or the sweep — do not hit the
    endpoint (``retry_in`` says when to come back), so ``max_attempts`` spans minutes, not a burst.
    """
    result = PushResult()
    for _ in range(max_batches):
        with transaction.atomic():
            if not _push_lock(channel_id):
                result.busy = True
                return result
            cfg = ChannelSync.objects.select_related("channel").filter(channel_id=channel_id).first()
            if cfg is None or not cfg.url or not cfg.is_active:
                return result
            qs = SyncMessage.objects.filter(channel_id=channel_id, status=MessageStatus.PENDING)
            if not ignore_backoff:
                backoff_until = qs.filter(next_attempt_at__gt=timezone.now()).aggregate(m=Max("next_attempt_at"))["m"]
                if backoff_until is not None:
                    result.retry_in = max((backoff_until - timezone.now()).total_seconds(), 0.05)
                    result.error = result.error or "endpoint in backoff"
                    return result
            messages = list(qs.order_by("id")[:PUSH_BATCH])
            if not messages:
                return result
            skus = dict(Product.objects.filter(id__in={m.product_id for m in messages if m.product_id}).values_list("id", "sku"))
            body = _message_body(cfg.channel, messages, skus)
            ids = [m.pk for m in messages]
            attempts = max(m.attempts for m in messages) + 1
            try:
                webhook_post(url=cfg.url, secret=cfg.secret, body=body, timeout=cfg.timeout_seconds)
            except (TransientPushError, PermanentPushError) as exc:
                permanent = isinstance(exc, PermanentPushError)
                error = str(exc)[:255]
                result.error = error
                dead = permanent or attempts >= cfg.max_attempts
                delay = _backoff(attempts)
                SyncMessage.objects.filter(id__in=ids).update(
                    attempts=attempts, last_error=error,
                    status=MessageStatus.DEAD if dead else MessageStatus.PENDING,
                    next_attempt_at=None if dead else timezone.now() + timedelta(seconds=delay),
                )
                if dead:
                    result.dead += len(ids)
                    logger.error("sync: %d message(s) for channel %s dead-lettered: %s", len(ids), cfg.channel.code, error)
                    alert_raise(
                        kind="sync_dead_letter",
                        message=f"{len(ids)} update(s) for channel {cfg.channel.code} dead-lettered after {attempts} attempt(s): {error}",
                        details={"channel": cfg.channel.code, "messages": ids[:500]},
                    )
                else:
                    result.failed += len(ids)
                    result.retry_in = delay
                return result
            acked = timezone.now()
            _record_ack(ids=ids, messages=messages, acked=acked, attempts=attempts)
            result.sent += len(ids)
    return result


def _record_ack(*, ids: list[int], messages: list[SyncMessage], acked: datetime, attempts: int) -> None:
    if connection.vendor == "postgresql":
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
