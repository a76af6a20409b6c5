"""Publishing: for a channel's dirty SKUs whose window closed, recompute ATP set-based and write a
message with the next sequence for every figure that moved; order/fulfilment events; the batch run
and the nightly full resync."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from allocation.availability.atp import atp_for_channel
from allocation.channels.models import Channel, SyncMode
from inventory.models import Product
from omni.errors import NotFound, ValidationFailed

from .locks import for_update
from .models import ChannelSync, EndpointMode, MessageKind, MessageStatus, SyncMessage, SyncState

EVENT_KINDS = {
    "ready_for_pickup", "shipped", "collected", "expired", "cancelled", "delivered", "returned", "order_status",
    # fulfilment: a location rejected units, the line went elsewhere, the customer is asked to choose
    "rejected", "rerouted", "customer_choice_requested",
}


def channel_sync_config(*, channel: Channel) -> ChannelSync:
    cfg, _ = ChannelSync.objects.get_or_create(channel=channel)
    return cfg


def sync_publish_due(*, now: datetime | None = None) -> tuple[dict[int, int], float | None]:
    """Publish, for every active channel, the dirty SKUs whose coalescing window has closed."""
    now = now or timezone.now()
    published: dict[int, int] = {}
    next_due: float | None = None
    # Each dirty channel's oldest mark with its mode and window, in one query: a near-real-time
    # channel whose window is still open (what most drains find) needs nothing more — no Channel
    # read, no publish transaction; the others are read and published below.
    dirty = (
        SyncState.objects.filter(dirty_since__isnull=False, channel__is_active=True)
        .values("channel_id", "channel__sync_mode", "channel__sync_window_seconds").annotate(oldest=Min("dirty_since"))
    )
    oldest_by_channel: dict[int, datetime] = {}
    for row in dirty:
        oldest, window = row["oldest"], row["channel__sync_window_seconds"]
        if row["channel__sync_mode"] == SyncMode.NEAR_REALTIME and oldest > now - timedelta(seconds=window):
            due_in = max((oldest + timedelta(seconds=window) - now).total_seconds(), 0.05)
            next_due = due_in if next_due is None else min(next_due, due_in)
        else:
            oldest_by_channel[row["channel_id"]] = oldest
    if not oldest_by_channel:
        return published, next_due
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
        cfg = _config_locked(channel)
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
        states = list(for_update(states_qs).order_by("pk"))
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


def _config_locked(channel: Channel) -> ChannelSync:
    """The channel's ``ChannelSync`` row, locked until the caller's transaction ends; created
    first if the channel has none yet (one query when it exists, which is nearly always; as many as before when it does not)."""
    try:
        return for_update(ChannelSync.objects.filter(channel=channel)).get()
    except ChannelSync.DoesNotExist:
        cfg, created = ChannelSync.objects.get_or_create(channel=channel)
        if created:  # inserted by this transaction: no other can lock (or even see) it before we commit
            return cfg
        return for_update(ChannelSync.objects.filter(channel=channel)).get()


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
    channel: same log, same sequence discipline (one stream per channel), same push and feed.

    The channel's ``ChannelSync`` row lock is taken until the caller commits: it is what makes the
    channel's messages commit in id and sequence order, which the feed's cursor and the receivers'
    "drop what is not newer" rule rely on; a lock-free sequence would break both (see
    allocation/sync/README.md, "Partner events and the channel lock", and ``bench eventwait``)."""
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
        cfg = _config_locked(channel)
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


def sync_full_resync() -> list[int]:
    """Publish every active channel's full figure set where it differs from what was published:
    the nightly safety net for anything that moved ATP without an outbox row."""
    return [c.id for c in Channel.objects.filter(is_active=True).order_by("id") if sync_channel_publish(channel=c, full=True)]
