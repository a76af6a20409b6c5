"""Draining the stock outbox into dirty marks per (channel, SKU), single-flight; the sweep that
catches up after a lost wake-up; pruning the outbox and the message log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from allocation.channels.models import Channel
from inventory.outbox import outbox_pending_exists, outbox_prune, outbox_take_pending
from omni.prepared import execute_prepared

from .locks import DRAIN_LOCK, for_update, session_lock, session_unlock
from .models import ChannelSync, MessageStatus, SyncMessage, SyncState
from .publish import sync_publish_due


@dataclass
class DrainResult:
    events: int = 0
    published: dict[int, int] = field(default_factory=dict)  # channel id → messages written
    next_due_in: float | None = None  # seconds until the earliest still-coalescing window closes


def sync_outbox_drain(*, limit: int = 5000, now: datetime | None = None) -> DrainResult:
    """Drain pending outbox rows into dirty marks (one commit), then publish every channel whose
    window closed, each channel in its own transaction (``sync_channel_publish``).

    Two steps, not one transaction for the round: every partner event of a channel takes that
    channel's ``ChannelSync`` lock until its own commit (``sync_event_publish``), so a store commit
    that publishes one waits for whoever holds it. The marking step holds every channel's lock for
    the outbox read and the dirty marks only; publishing then holds one channel's lock at a time,
    for that channel's ATP and messages (``bench eventwait``). Nothing is lost between the steps:
    the dirty marks are committed, and any drain, batch or sweep publishes them."""
    result = DrainResult()
    with transaction.atomic():  # one commit for the outbox rows taken and their dirty marks
        # Lock order everywhere: ChannelSync rows (by id) before SyncState rows, so the drain and a
        # concurrent batch/resync/event publish cannot deadlock.
        channel_ids = _active_channels_locked()
        _mark_pending(result, channel_ids=channel_ids, limit=limit)
    result.published, result.next_due_in = sync_publish_due(now=now)  # a transaction per channel
    return result


# Every active channel's ChannelSync row locked (by id), in one prepared statement, with the ids of
# all active channels (to see whether one has no ChannelSync row yet).
_LOCK_SQL = (
    "SELECT cs.channel_id, (SELECT array_agg(c.id) FROM {channel} c WHERE c.is_active) FROM {sync} cs "
    "WHERE cs.channel_id IN (SELECT c.id FROM {channel} c WHERE c.is_active) ORDER BY cs.id FOR UPDATE OF cs"
)


def _active_channels_locked() -> list[int]:
    """The active channels' ids, their ``ChannelSync`` rows locked until the caller's transaction
    ends (created first for a channel that has none)."""
    if connection.vendor == "postgresql":
        sql = _LOCK_SQL.format(channel=Channel._meta.db_table, sync=ChannelSync._meta.db_table)
        with connection.cursor() as cursor:
            execute_prepared(cursor, sql, [], prefix="omni_sync_")
            rows = cursor.fetchall()
        if rows and len(rows) == len(rows[0][1] or ()):  # every active channel has its row: nearly always
            return [channel_id for channel_id, _ in rows]
    channel_ids = list(Channel.objects.filter(is_active=True).values_list("id", flat=True))
    locked = list(for_update(ChannelSync.objects.filter(channel_id__in=channel_ids)).order_by("id").values_list("channel_id", flat=True))
    if len(locked) < len(channel_ids):
        ChannelSync.objects.bulk_create(
            [ChannelSync(channel_id=c) for c in set(channel_ids) - set(locked)], ignore_conflicts=True
        )
        list(for_update(ChannelSync.objects.filter(channel_id__in=channel_ids)).order_by("id").values_list("id", flat=True))
    return channel_ids


def _mark_pending(result: DrainResult, *, channel_ids: list[int], limit: int) -> None:
    rows = outbox_take_pending(limit=limit)  # marked processed in this transaction
    if rows:
        first_change: dict[int, datetime] = {}
        for product_id, created_at in rows:
            if product_id not in first_change or created_at < first_change[product_id]:
                first_change[product_id] = created_at
        _mark_dirty(channel_ids=channel_ids, first_change=first_change)
        result.events = len(rows)


_ROUND_LIMIT = 5000  # outbox rows one round takes


@dataclass
class DrainRun:
    busy: bool = False
    events: int = 0
    published: set[int] = field(default_factory=set)
    next_due_in: float | None = None


def sync_drain_run(*, on_published: Callable[[list[int]], None] | None = None, max_rounds: int = 10_000,
                   recheck: bool = True) -> DrainRun:
    """Single-flight drain: one drain at a time (a PostgreSQL session advisory lock) loops until
    the outbox is empty, handing each round's channels to ``on_published`` at once. A drain that
    finds the lock taken returns ``busy``: with ``recheck`` (the default: the ``sync_drain``
    command, the sweep, eager tasks) the running one re-checks the outbox after releasing the lock,
    so a change committed before the busy drain started is never left behind; without it the busy
    drain's caller queues another drain (the ``sync_drain`` task, ``BUSY_RETRY_SECONDS``).

    ``recheck=False`` leaves that re-check (and the second pass it starts) to the caller's
    guarantee that whatever committed meanwhile has a drain of its own and that a ``busy`` drain
    queues another: the ``sync_drain`` task's, where every commit wakes a drain through the mark
    (``trigger``). Under steady orders nearly every re-check found a row committed during the
    drain, and the second pass drained it ahead of the drain that row's commit had queued anyway,
    which then ran too (7 round trips and a commit more per drain)."""
    run = DrainRun()
    for _ in range(2 if recheck else 1):  # the second pass is the re-check after releasing the lock
        if not session_lock(DRAIN_LOCK):
            run.busy = True
            return run
        try:
            for _round in range(max_rounds):
                result = sync_outbox_drain(limit=_ROUND_LIMIT)
                run.events += result.events
                run.next_due_in = result.next_due_in
                if result.published:
                    run.published.update(result.published)
                    if on_published is not None:
                        on_published(list(result.published))
                if result.events < _ROUND_LIMIT:
                    # The outbox was empty when this round read it: another round would only find
                    # what committed since, which the check after the unlock below (and the drain
                    # those commits queued) takes. Saves a whole empty round per drain.
                    break
        finally:
            session_unlock(DRAIN_LOCK)
        if not recheck or not outbox_pending_exists():
            break
    return run


_MARK_SQL = (
    "INSERT INTO {t} (channel_id, product_id, sequence, published, dirty_since) "
    "SELECT c, p, 0, NULL, d FROM UNNEST(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS v(c, p, d) "
    "ON CONFLICT (channel_id, product_id) DO UPDATE SET dirty_since = CASE "
    "WHEN {t}.dirty_since IS NULL OR excluded.dirty_since < {t}.dirty_since THEN excluded.dirty_since ELSE {t}.dirty_since END"
)


def _mark_dirty(*, channel_ids: list[int], first_change: dict[int, datetime]) -> None:
    """Upsert (channel, SKU) → dirty since the oldest change; one statement. An earlier mark is kept."""
    if not channel_ids or not first_change:
        return
    table = SyncState._meta.db_table
    rows = [(c, p, since) for c in channel_ids for p, since in first_change.items()]
    if connection.vendor == "postgresql":
        # One prepared statement whatever the number of rows: three arrays, not three parameters a row.
        with connection.cursor() as cursor:
            execute_prepared(cursor, _MARK_SQL.format(t=table), [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
                             prefix="omni_sync_")
        return
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


@dataclass
class SweepResult:
    drained: int
    pushed_channels: list[int]
    next_due_in: float | None
    busy: bool = False  # another drain held the lock: the outbox was not read


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
    return SweepResult(drained=drained.events, pushed_channels=channels, next_due_in=drained.next_due_in, busy=drained.busy)


def sync_log_prune(*, older_than_days: int = 14) -> tuple[int, int]:
    """Delete processed outbox rows and delivered/superseded/feed messages older than the
    retention (the delta feed keeps that long; partners poll far more often). Dead letters stay."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    outbox = outbox_prune(processed_before=cutoff)
    log, _ = SyncMessage.objects.filter(
        created_at__lt=cutoff, status__in=[MessageStatus.SENT, MessageStatus.SUPERSEDED, MessageStatus.FEED]
    ).delete()
    return outbox, log
