"""Channel sync writes: drain the outbox, publish per channel, push, events, batch, sweep.

Flow (see ARCHITECTURE.md "Change flows out through an outbox"):

1. ``sync_outbox_drain`` takes pending ``OutboxEvent`` rows with ``SELECT … FOR UPDATE SKIP LOCKED``
   (two drains never take the same rows), marks each touched (channel, SKU) *dirty since* the
   oldest change's commit, and marks the rows processed — one transaction, so a crash loses nothing.
2. ``sync_channel_publish`` takes a channel's dirty SKUs whose coalescing window has closed,
   recomputes their ATP with one ``atp_for_channel`` call, and for every figure that differs from
   the last published one writes a ``SyncMessage`` with the next sequence number for that
   (channel, SKU). A burst of changes to one SKU inside the window becomes one message.
3. ``sync_channel_push`` POSTs a channel's pending messages, in order, as one signed body. A 2xx
   acknowledges them (and records latency); a transient failure leaves them pending with a backoff;
   after ``max_attempts`` (or a permanent 4xx) they are dead-lettered for the admin to resend.

Velocity: on a near-real-time or real-time channel every SKU goes out when its window closes. On a
batch channel only SKUs of ``realtime_velocity_classes`` (default A: fast movers, where a stale figure
oversells soonest) go out near-real-time; B and C SKUs stay dirty until the channel's batch run.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from allocation.models import Channel, SyncMode
from allocation.selectors import atp_for_channel
from inventory.alerts.services import alert_raise
from inventory.models import OutboxEvent, Product
from omni.errors import NotFound, ValidationFailed

from .models import ChannelSync, EndpointMode, MessageKind, MessageStatus, SyncMessage, SyncState
from .webhook import PermanentPushError, TransientPushError, webhook_post

logger = logging.getLogger(__name__)

PUSH_BATCH = 500
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 300.0
EVENT_KINDS = {"ready_for_pickup", "shipped", "collected", "expired", "cancelled", "delivered", "returned", "order_status"}


# Both lock only the queried table's rows (``OF self``): a query joined to products (velocity class,
# active flag) must not lock Product rows, or every stock change of those SKUs (its outbox row
# takes a key-share lock on the product) would wait for the publish to commit.


def _skip_locked(qs):
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def _for_update(qs):
    if connection.features.has_select_for_update:
        return qs.select_for_update(of=("self",))
    return qs


def channel_sync_config(*, channel: Channel) -> ChannelSync:
    cfg, _ = ChannelSync.objects.get_or_create(channel=channel)
    return cfg


# --------------------------------------------------------------------------------------------
# 1. drain
# --------------------------------------------------------------------------------------------


@dataclass
class DrainResult:
    events: int = 0
    published: dict[int, int] = field(default_factory=dict)  # channel id → messages written
    next_due_in: float | None = None  # seconds until the earliest still-coalescing window closes


def sync_outbox_drain(*, limit: int = 5000, now: datetime | None = None) -> DrainResult:
    """Drain pending outbox rows into dirty marks, then publish every channel whose window closed."""
    result = DrainResult()
    with transaction.atomic():  # one commit for marking and publishing
        # Lock order everywhere: ChannelSync rows (by id) before SyncState rows, so the drain and a
        # concurrent batch/resync/event publish cannot deadlock.
        channel_ids = list(Channel.objects.filter(is_active=True).values_list("id", flat=True))
        locked = list(_for_update(ChannelSync.objects.filter(channel_id__in=channel_ids)).order_by("id").values_list("channel_id", flat=True))
        if len(locked) < len(channel_ids):
            ChannelSync.objects.bulk_create(
                [ChannelSync(channel_id=c) for c in set(channel_ids) - set(locked)], ignore_conflicts=True
            )
            list(_for_update(ChannelSync.objects.filter(channel_id__in=channel_ids)).order_by("id").values_list("id", flat=True))
        _mark_pending(result, channel_ids=channel_ids, limit=limit)
        result.published, result.next_due_in = sync_publish_due(now=now)
    return result


def _mark_pending(result: DrainResult, *, channel_ids: list[int], limit: int) -> None:
    rows = list(
        _skip_locked(OutboxEvent.objects.filter(processed_at__isnull=True).order_by("id"))
        .values_list("id", "product_id", "created_at")[:limit]
    )
    if rows:
        first_change: dict[int, datetime] = {}
        for _, product_id, created_at in rows:
            if product_id not in first_change or created_at < first_change[product_id]:
                first_change[product_id] = created_at
        _mark_dirty(channel_ids=channel_ids, first_change=first_change)
        OutboxEvent.objects.filter(id__in=[r[0] for r in rows]).update(processed_at=timezone.now())
        result.events = len(rows)


DRAIN_LOCK = (0x5E7C, 0)


def _session_lock(key: tuple[int, int]) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", list(key))
        return bool(cursor.fetchone()[0])


def _session_unlock(key: tuple[int, int]) -> None:
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", list(key))
    except Exception:  # noqa: BLE001 - a broken connection has released its session locks already
        logger.warning("sync: could not release the drain lock (connection lost?)")


@dataclass
class DrainRun:
    busy: bool = False
    events: int = 0
    published: set[int] = field(default_factory=set)
    next_due_in: float | None = None


def sync_drain_run(*, on_published: Callable[[list[int]], None] | None = None, max_rounds: int = 10_000) -> DrainRun:
    """Single-flight drain: one drain at a time (a PostgreSQL session advisory lock) loops until
    the outbox is empty, handing each round's channels to ``on_published`` at once. A drain that
    finds the lock taken returns ``busy``: the running one re-checks the outbox after releasing
    the lock, so a change committed before the busy drain started is never left behind."""
    run = DrainRun()
    for _ in range(2):  # the second pass is the re-check after releasing the lock
        if not _session_lock(DRAIN_LOCK):
            run.busy = True
            return run
        try:
            for _round in range(max_rounds):
                result = sync_outbox_drain()
                run.events += result.events
                run.next_due_in = result.next_due_in
                if result.published:
                    run.published.update(result.published)
                    if on_published is not None:
                        on_published(list(result.published))
                if not result.events:
                    break
        finally:
            _session_unlock(DRAIN_LOCK)
        if not OutboxEvent.objects.filter(processed_at__isnull=True).exists():
            break
    return run


def _mark_dirty(*, channel_ids: list[int], first_change: dict[int, datetime]) -> None:
    """Upsert (channel, SKU) → dirty since the oldest change; one statement. An earlier mark is kept."""
    if not channel_ids or not first_change:
        return
    table = SyncState._meta.db_table
    rows = [(c, p, since) for c in channel_ids for p, since in first_change.items()]
    ops = connection.ops
    for start in range(0, len(rows), 5000):
        chunk = rows[start:start + 5000]
        values = ", ".join(["(%s, %s, 0, NULL, %s)"] * len(chunk))
        params: list = []
        for channel_id, product_id, since in chunk:
            params += [channel_id, product_id, ops.adapt_datetimefield_value(since)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (channel_id, product_id, sequence, published, dirty_since) VALUES {values} "  # noqa: S608
                f"ON CONFLICT (channel_id, product_id) DO UPDATE SET dirty_since = CASE "
                f"WHEN {table}.dirty_since IS NULL OR excluded.dirty_since < {table}.dirty_since "
                f"THEN excluded.dirty_since ELSE {table}.dirty_since END",
                params,
            )


def sync_publish_due(*, now: datetime | None = None) -> tuple[dict[int, int], float | None]:
    """Publish, for every active channel, the dirty SKUs whose coalescing window has closed."""
    now = now or timezone.now()
    published: dict[int, int] = {}
    next_due: float | None = None
    dirty = (
        SyncState.objects.filter(dirty_since__isnull=False, channel__is_active=True)
        .values("channel_id").annotate(oldest=Min("dirty_since"))
    )
    oldest_by_channel = {row["channel_id"]: row["oldest"] for row in dirty}
    if not oldest_by_channel:
        return published, None
    for channel in Channel.objects.filter(id__in=list(oldest_by_channel)).select_related("sync_config"):
        window = 0 if channel.sync_mode == SyncMode.REALTIME else channel.sync_window_seconds
        classes = None
        if channel.sync_mode == SyncMode.BATCH:
            cfg = getattr(channel, "sync_config", None)
            classes = list(cfg.realtime_velocity_classes if cfg is not None else "A")
            if not classes:
                continue
        due_before = now - timedelta(seconds=window)
        written = sync_channel_publish(channel=channel, due_before=due_before, velocity_classes=classes)
        if written:
            published[channel.id] = written
        if window:
            pending = SyncState.objects.filter(channel=channel, dirty_since__isnull=False)
            if classes is not None:
                pending = pending.filter(product__velocity_class__in=classes)
            oldest = pending.aggregate(m=Min("dirty_since"))["m"]
            if oldest is not None:
                due_in = max((oldest + timedelta(seconds=window) - now).total_seconds(), 0.05)
                next_due = due_in if next_due is None else min(next_due, due_in)
    return published, next_due


# --------------------------------------------------------------------------------------------
# 2. publish
# --------------------------------------------------------------------------------------------


def sync_channel_publish(
    *, channel: Channel, due_before: datetime | None = None, velocity_classes: Iterable[str] | None = None,
    full: bool = False, force: bool = False,
) -> int:
    """Write the next message for every (channel, SKU) whose figure moved. Returns how many.

    ``full`` compares every active SKU (the batch snapshot; also catches changes that did not come
    through the outbox, such as a visibility rule); ``force`` (with ``full``) sends every figure
    even if unchanged — the initial load of a newly attached endpoint. Publishing for one channel is serialised by a
    lock on its ``ChannelSync`` row, so message ids of a channel are committed in order (the feed
    cursor relies on this) and sequences never collide.
    """
    with transaction.atomic():
        ChannelSync.objects.get_or_create(channel=channel)
        cfg = _for_update(ChannelSync.objects.filter(channel=channel)).get()
        if full:
            product_ids = list(Product.objects.filter(is_active=True).values_list("id", flat=True))
            SyncState.objects.bulk_create([SyncState(channel=channel, product_id=p) for p in product_ids], ignore_conflicts=True)
            states_qs = SyncState.objects.filter(Q(product__is_active=True) | Q(dirty_since__isnull=False), channel=channel)
        else:
            states_qs = SyncState.objects.filter(channel=channel, dirty_since__isnull=False)
            if due_before is not None:
                states_qs = states_qs.filter(dirty_since__lte=due_before)
            if velocity_classes is not None:
                states_qs = states_qs.filter(product__velocity_class__in=list(velocity_classes))
        states = list(_for_update(states_qs).order_by("pk"))
        if not states:
            return 0
        atp = atp_for_channel(channel=channel, product_ids=[s.product_id for s in states])
        now = timezone.now()
        status = MessageStatus.PENDING if (cfg.url and cfg.is_active) else MessageStatus.FEED
        holdback = cfg.holdback_units if cfg.mode == EndpointMode.ABSOLUTE else 0
        messages = []
        for state in states:
            figure = max(int(atp.get(state.product_id, 0)) - holdback, 0)
            changed_at = state.dirty_since or now
            state.dirty_since = None
            if state.published == figure and not force:
                continue
            delta = figure - (state.published or 0)
            state.sequence += 1
            state.published = figure
            messages.append(
                SyncMessage(
                    channel=channel, kind=MessageKind.AVAILABILITY, product_id=state.product_id, sequence=state.sequence,
                    available=figure, delta=delta, changed_at=changed_at, status=status,
                )
            )
        _states_save(states)
        if cfg.mode == EndpointMode.ABSOLUTE and messages:
            # An absolute figure replaces every older one not yet delivered.
            SyncMessage.objects.filter(
                channel=channel, kind=MessageKind.AVAILABILITY, status__in=[MessageStatus.PENDING, MessageStatus.DEAD],
                product_id__in=[m.product_id for m in messages],
            ).update(status=MessageStatus.SUPERSEDED)
        SyncMessage.objects.bulk_create(messages)
        if messages and status == MessageStatus.PENDING:
            # Whoever published (drain, batch, admin resync or initial load), the pusher is woken
            # after commit; wake-ups are deduplicated, so the drain's own wake-up costs nothing more.
            from .trigger import push_wake

            channel_id = channel.id
            transaction.on_commit(lambda: push_wake([channel_id]))
    return len(messages)


def _states_save(states: list[SyncState]) -> None:
    """Write back sequence/published and clear dirty marks: one ``UPDATE … FROM (VALUES …)`` on
    PostgreSQL (Django's bulk_update builds a CASE per row, costly at high rates)."""
    if connection.vendor != "postgresql":
        SyncState.objects.bulk_update(states, ["dirty_since", "sequence", "published"])
        return
    table = SyncState._meta.db_table
    for start in range(0, len(states), 5000):
        chunk = states[start:start + 5000]
        values = ", ".join(["(%s::bigint, %s::bigint, %s::integer)"] * len(chunk))
        params: list = []
        for st in chunk:
            params += [st.pk, st.sequence, st.published]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS s SET dirty_since = NULL, sequence = v.seq, published = v.pub "  # noqa: S608
                f"FROM (VALUES {values}) AS v(id, seq, pub) WHERE s.id = v.id",
                params,
            )


def sync_event_publish(*, channel: Channel, kind: str, payload: dict[str, Any]) -> SyncMessage:
    """An order/fulfilment status event (ready_for_pickup, shipped, collected, expired …) for a
    channel: same log, same sequence discipline (one stream per channel), same push and feed."""
    if not isinstance(channel, Channel) or channel.pk is None:
        raise NotFound("Unknown channel.", details={"channel": ["Not found."]})
    if kind not in EVENT_KINDS:
        raise ValidationFailed(
            f"Unknown event kind {kind!r}; expected one of {', '.join(sorted(EVENT_KINDS))}.",
            code="invalid_event_kind", details={"kind": ["Unknown."]},
        )
    if not isinstance(payload, dict):
        raise ValidationFailed("An event payload must be a JSON object.", details={"payload": ["Must be an object."]})
    with transaction.atomic():
        ChannelSync.objects.get_or_create(channel=channel)
        cfg = _for_update(ChannelSync.objects.filter(channel=channel)).get()
        cfg.event_sequence += 1
        cfg.save(update_fields=["event_sequence"])
        now = timezone.now()
        message = SyncMessage.objects.create(
            channel=channel, kind=MessageKind.EVENT, event=kind, payload=payload, sequence=cfg.event_sequence,
            changed_at=now, status=MessageStatus.PENDING if (cfg.url and cfg.is_active) else MessageStatus.FEED,
        )
        if message.status == MessageStatus.PENDING:
            from .trigger import push_wake

            transaction.on_commit(lambda: push_wake([channel.id]))
    return message


# --------------------------------------------------------------------------------------------
# 3. push
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# batch and sweep
# --------------------------------------------------------------------------------------------


def sync_batch_due(*, now: datetime | None = None, full: bool = False) -> list[int]:
    """Run the batch for every batch channel whose interval has elapsed: publish all its dirty
    SKUs (deltas), or every SKU with ``full``. Returns the channel ids that got messages."""
    now = now or timezone.now()
    touched = []
    for channel in Channel.objects.filter(is_active=True, sync_mode=SyncMode.BATCH).order_by("id"):
        cfg = channel_sync_config(channel=channel)
        if cfg.last_batch_at and cfg.last_batch_at + timedelta(seconds=channel.sync_interval_seconds) > now:
            continue
        if sync_channel_publish(channel=channel, full=full or cfg.batch_full):
            touched.append(channel.id)
        ChannelSync.objects.filter(pk=cfg.pk).update(last_batch_at=now)
    return touched


@dataclass
class SweepResult:
    drained: int
    pushed_channels: list[int]
    next_due_in: float | None


def sync_sweep(*, on_published: Callable[[list[int]], None] | None = None) -> SweepResult:
    """Catch up on whatever a lost wake-up, a dead worker or a down broker left behind: drain the
    outbox, publish due windows, and list channels with pending messages ready to push."""
    drained = sync_drain_run(on_published=on_published)
    now = timezone.now()
    channels = sorted(
        set(
            SyncMessage.objects.filter(status=MessageStatus.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .values_list("channel_id", flat=True)
        )
    )
    return SweepResult(drained=drained.events, pushed_channels=channels, next_due_in=drained.next_due_in)



def sync_full_resync() -> list[int]:
    """Publish every active channel's full figure set where it differs from what was published:
    the nightly safety net for anything that moved ATP without an outbox row."""
    return [c.id for c in Channel.objects.filter(is_active=True).order_by("id") if sync_channel_publish(channel=c, full=True)]


def sync_log_prune(*, older_than_days: int = 14) -> tuple[int, int]:
    """Delete processed outbox rows and delivered/superseded/feed messages older than the
    retention (the delta feed keeps that long; partners poll far more often). Dead letters stay."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    outbox, _ = OutboxEvent.objects.filter(processed_at__lt=cutoff).delete()
    log, _ = SyncMessage.objects.filter(
        created_at__lt=cutoff, status__in=[MessageStatus.SENT, MessageStatus.SUPERSEDED, MessageStatus.FEED]
    ).delete()
    return outbox, log
