"""Publishing: for a channel's dirty SKUs whose window closed, recompute ATP set-based and write a
message with the next sequence for every figure that moved; order/fulfilment events; the batch run
and the nightly full resync."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import connection, models, transaction
from django.db.models import Min, Q
from django.utils import timezone

from allocation.availability.atp import atp_for_channel
from allocation.channels.models import Channel, SyncMode
from inventory.models import Product
from omni.errors import NotFound, ValidationFailed
from omni.prepared import execute_prepared

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
    # Each dirty channel with its oldest mark and velocity classes, in one query: a near-real-time
    # channel whose window is still open (what most drains find) needs nothing more — no publish
    # transaction; the others are published below, by code.
    for channel, configured_classes, oldest in _dirty_channels():
        window = 0 if channel.sync_mode == SyncMode.REALTIME else channel.sync_window_seconds
        if channel.sync_mode == SyncMode.NEAR_REALTIME and oldest > now - timedelta(seconds=window):
            due_in = max((oldest + timedelta(seconds=window) - now).total_seconds(), 0.05)
            next_due = due_in if next_due is None else min(next_due, due_in)
            continue
        classes: list[str] | None = None
        if channel.sync_mode == SyncMode.BATCH:
            classes = list(configured_classes if configured_classes is not None else "A")
            if not classes:
                continue
        due_before = now - timedelta(seconds=window)
        written, oldest_left = _publish(channel=channel, due_before=due_before, velocity_classes=classes)
        if written:
            published[channel.id] = written
        if window:
            if oldest_left is _UNKNOWN:
                pending = SyncState.objects.filter(channel=channel, dirty_since__isnull=False)
                if classes is not None:
                    pending = pending.filter(product__velocity_class__in=classes)
                oldest_left = pending.aggregate(m=Min("dirty_since"))["m"]
            if oldest_left is not None:
                assert isinstance(oldest_left, datetime), "a dirty mark's time"
                due_in = max((oldest_left + timedelta(seconds=window) - now).total_seconds(), 0.05)
                next_due = due_in if next_due is None else min(next_due, due_in)
    return published, next_due


# Every drain runs these (about ten a second under steady orders): plain SQL as named prepared
# statements of the connection (planned once per connection, no ORM statement to compile), with
# the ORM's equivalents where PostgreSQL is not the database.
_DIRTY_SQL = (
    "SELECT {columns}, cs.realtime_velocity_classes, MIN(s.dirty_since) "
    "FROM {state} s JOIN {channel} t ON t.id = s.channel_id LEFT JOIN {sync} cs ON cs.channel_id = t.id "
    "WHERE s.dirty_since IS NOT NULL AND t.is_active GROUP BY t.id, cs.id ORDER BY t.code"
)


def _dirty_channels() -> list[tuple[Channel, str | None, datetime]]:
    """Every active channel with a dirty SKU, by code (as ``Channel.objects`` orders them): the
    channel, its velocity classes (None without a ChannelSync row) and its oldest dirty mark."""
    if connection.vendor == "postgresql":
        names, columns, converters = _loader(Channel)
        sql = _DIRTY_SQL.format(columns=columns, state=SyncState._meta.db_table, channel=Channel._meta.db_table,
                                sync=ChannelSync._meta.db_table)
        with connection.cursor() as cursor:
            execute_prepared(cursor, sql, [], prefix="omni_sync_")
            rows = cursor.fetchall()
        return [(_instance(Channel, names, converters, row[:-2]), row[-2], row[-1]) for row in rows]
    dirty = (
        SyncState.objects.filter(dirty_since__isnull=False, channel__is_active=True)
        .values("channel_id", "channel__sync_config__realtime_velocity_classes").annotate(oldest=Min("dirty_since"))
    )
    found = {r["channel_id"]: (r["channel__sync_config__realtime_velocity_classes"], r["oldest"]) for r in dirty}
    return [(channel, *found[channel.id]) for channel in Channel.objects.filter(id__in=list(found))]


_M = TypeVar("_M", bound=models.Model)


def _load(model: type[_M], where: str, params: list, *, lock: bool = False) -> list[_M]:
    """Instances of ``model`` (every concrete field, converted as the ORM converts them) from one
    prepared statement ``SELECT … FROM <table> t <where>`` (``FOR UPDATE OF t`` with ``lock``)."""
    names, columns, converters = _loader(model)
    sql = f"SELECT {columns} FROM {model._meta.db_table} t {where}{' FOR UPDATE OF t' if lock else ''}"  # noqa: S608
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params, prefix="omni_sync_")
        rows = cursor.fetchall()
    return [_instance(model, names, converters, row) for row in rows]


def _instance(model: type[_M], names: list[str], converters: list, row: Sequence[Any]) -> _M:
    values = list(row)
    for i, col, funcs in converters:
        for func in funcs:
            values[i] = func(values[i], col, connection)
    return model.from_db(connection.alias, names, values)


_LOADERS: dict[type, tuple[list[str], str, list]] = {}


def _loader(model: type[models.Model]) -> tuple[list[str], str, list]:
    if model not in _LOADERS:
        fields = model._meta.concrete_fields
        converters = []
        for i, f in enumerate(fields):
            col = f.get_col("t")
            funcs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if funcs:
                converters.append((i, col, funcs))
        _LOADERS[model] = ([f.attname for f in fields], ", ".join(f"t.{connection.ops.quote_name(str(f.column))}" for f in fields),
                           converters)
    return _LOADERS[model]


class _Unknown:
    pass


_UNKNOWN: Any = _Unknown()


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
    return _publish(channel=channel, due_before=due_before, velocity_classes=velocity_classes, full=full, force=force)[0]


def _publish(
    *, channel: Channel, due_before: datetime | None = None, velocity_classes: Iterable[str] | None = None,
    full: bool = False, force: bool = False,
) -> tuple[int, Any]:
    """``sync_channel_publish``, and the oldest dirty mark it left (``None``: none; ``_UNKNOWN``:
    not read — it is read with the due states when ``due_before`` is given, on PostgreSQL)."""
    oldest_left: Any = _UNKNOWN
    with transaction.atomic():
        cfg = _config_locked(channel)
        if full:
            product_ids = list(Product.objects.filter(is_active=True).values_list("id", flat=True))
            SyncState.objects.bulk_create([SyncState(channel=channel, product_id=p) for p in product_ids], ignore_conflicts=True)
            states_qs = SyncState.objects.filter(Q(product__is_active=True) | Q(dirty_since__isnull=False), channel=channel)
            states = list(for_update(states_qs).order_by("pk"))
        elif due_before is not None and connection.vendor == "postgresql":
            states, oldest_left = _due_states_locked(channel.id, due_before, velocity_classes)
        else:
            states_qs = SyncState.objects.filter(channel=channel, dirty_since__isnull=False)
            if due_before is not None:
                states_qs = states_qs.filter(dirty_since__lte=due_before)
            if velocity_classes is not None:
                states_qs = states_qs.filter(product__velocity_class__in=list(velocity_classes))
            states = list(for_update(states_qs).order_by("pk"))
        if not states:
            return 0, _UNKNOWN
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
        _messages_insert(messages)
        if messages and status == MessageStatus.PENDING:
            # Whoever published (drain, batch, admin resync or initial load), the pusher is woken
            # after commit; wake-ups are deduplicated, so the drain's own wake-up costs nothing more.
            from .trigger import push_wake

            channel_id = channel.id
            transaction.on_commit(lambda: push_wake([channel_id]))
    return len(messages), oldest_left


def _due_states_locked(channel_id: int, due_before: datetime, velocity_classes: Iterable[str] | None
                       ) -> tuple[list[SyncState], datetime | None]:
    """The channel's states dirty since ``due_before`` or earlier (of these velocity classes),
    locked, by id; and the oldest mark of the others (what stays dirty), in one statement."""
    state = SyncState._meta.db_table
    params: list = [channel_id, due_before]
    of_classes = ""
    if velocity_classes is not None:
        params.append(list(velocity_classes))
        of_classes = f" AND {{a}}.product_id IN (SELECT p.id FROM {Product._meta.db_table} p WHERE p.velocity_class = ANY($3::text[]))"
    where = (
        f"WHERE t.channel_id = $1 AND t.dirty_since IS NOT NULL AND t.dirty_since <= $2{of_classes.format(a='t')} ORDER BY t.id"
    )
    names, columns, _ = _loader(SyncState)
    sql = (f"SELECT {columns}, (SELECT MIN(r.dirty_since) FROM {state} r WHERE r.channel_id = $1 AND r.dirty_since > $2"  # noqa: S608
           f"{of_classes.format(a='r')}) FROM {state} t {where} FOR UPDATE OF t")
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params, prefix="omni_sync_", body=sql)
        rows = cursor.fetchall()
    if not rows:
        return [], None  # not read: the caller asks for it
    oldest_left = rows[0][-1]
    return [SyncState.from_db(connection.alias, names, row[:-1]) for row in rows], oldest_left


def _config_locked(channel: Channel) -> ChannelSync:
    """The channel's ``ChannelSync`` row, locked until the caller's transaction ends; created
    first if the channel has none yet (one query when it exists, which is nearly always; as many as before when it does not)."""
    try:
        if connection.vendor == "postgresql":
            found = _load(ChannelSync, "WHERE t.channel_id = %s", [channel.pk], lock=True)
            if found:
                return found[0]
            raise ChannelSync.DoesNotExist
        return for_update(ChannelSync.objects.filter(channel=channel)).get()
    except ChannelSync.DoesNotExist:
        cfg, created = ChannelSync.objects.get_or_create(channel=channel)
        if created:  # inserted by this transaction: no other can lock (or even see) it before we commit
            return cfg
        return for_update(ChannelSync.objects.filter(channel=channel)).get()


def _states_save(states: list[SyncState]) -> None:
    """Write back sequence/published and clear dirty marks: one prepared ``UPDATE … FROM UNNEST``
    on PostgreSQL (Django's bulk_update builds a CASE per row, costly at high rates)."""
    if connection.vendor != "postgresql":
        SyncState.objects.bulk_update(states, ["dirty_since", "sequence", "published"])
        return
    table = SyncState._meta.db_table
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            f"UPDATE {table} AS s SET dirty_since = NULL, sequence = v.seq, published = v.pub "  # noqa: S608
            f"FROM UNNEST(%s::bigint[], %s::bigint[], %s::integer[]) AS v(id, seq, pub) WHERE s.id = v.id",
            [[st.pk for st in states], [st.sequence for st in states], [st.published for st in states]],
            prefix="omni_sync_",
        )


# The columns that differ between a drain's availability messages; every other column takes the
# same value in all of them (the first message's, prepared by its field as an insert prepares it).
_MESSAGE_ROW_FIELDS = ("product", "sequence", "available", "delta", "changed_at")


def _messages_insert(messages: list[SyncMessage]) -> None:
    """Insert the availability messages in list order (their ids, the feed's cursor, follow it):
    one prepared ``INSERT … SELECT FROM UNNEST`` on PostgreSQL, where ``bulk_create`` compiled a
    statement of its own for each publish; ``bulk_create`` elsewhere or for other messages."""
    if not messages:
        return
    if connection.vendor != "postgresql" or any(m.kind != MessageKind.AVAILABILITY or m.pk is not None for m in messages):
        SyncMessage.objects.bulk_create(messages)
        return
    first = messages[0]
    shared = [f for f in SyncMessage._meta.concrete_fields if not f.primary_key and f.name not in _MESSAGE_ROW_FIELDS]
    varying = [f for name in _MESSAGE_ROW_FIELDS for f in SyncMessage._meta.concrete_fields if f.name == name]
    for f in shared:  # auto_now_add stamps created_at, as an insert does: one time for the statement
        value = f.pre_save(first, True)
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            for m in messages:
                setattr(m, f.attname, value)
    if any(getattr(m, f.attname) != getattr(first, f.attname) for m in messages for f in shared):
        SyncMessage.objects.bulk_create(messages)
        return
    qn = connection.ops.quote_name
    columns = [qn(str(f.column)) for f in shared] + [qn(str(f.column)) for f in varying]
    types = ["bigint", "bigint", "integer", "integer", "timestamptz"]
    params: list = [f.get_db_prep_save(getattr(first, f.attname), connection) for f in shared]
    params += [[getattr(m, f.attname) for m in messages] for f in varying]
    n = len(shared)
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    select = ", ".join([f"%s::{f.db_type(connection)}" for f in shared] + [f"v.c{i}" for i in range(len(varying))])
    sql = (f"INSERT INTO {SyncMessage._meta.db_table} ({', '.join(columns)}) SELECT {select} "  # noqa: S608
           f"FROM UNNEST({arrays}) WITH ORDINALITY AS v({', '.join(f'c{i}' for i in range(len(varying)))}, n) ORDER BY v.n")
    assert sql.count("%s") == n + len(varying), "one parameter per shared column and per array"
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params, prefix="omni_sync_")


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
