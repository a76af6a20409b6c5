"""Where each channel sells from — the one visibility resolver — and what else the ATP statement
needs besides stock: the percent of each location's stock that counts (accuracy haircut), which
other channels protect a quota, the pool, the sync period. Loaded in one round trip for any number
of channels.

A channel sells from the active, non-supplier locations its visibility rules name (directly or
through a location group) and, when it may sell drop-ship, from every active supplier; an inactive
channel sells from nowhere. ATP, routing (``channel_location_ids``), pickup, the explorer and a
partner token's read scope all take the locations from here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import connection
from django.utils import timezone

from allocation.accuracy.selectors import LocationAccuracy
from allocation.channels.models import Channel, ChannelKind, LocationGroup, SyncMode
from inventory.models import LocationDayLoad, LocationKind
from inventory.selectors import local_day

from omni.prepared import fetch_prepared, read_ahead_prepared

from .sql import _pg


@dataclass(frozen=True)
class ChannelContext:
    """What one channel's ATP query needs besides stock: loaded for many channels in a few queries."""

    channel: Channel
    visible_pct: dict[int, int]  # visible active own location → percent of its available that counts
    supplier_pct: dict[int, int]  # supplier locations (drop-ship channels only) → percent that counts
    quota_others: dict[int, frozenset[int]]  # other channels with an active quota → their visible own locations
    own_location_ids: frozenset[int]  # every active non-supplier location: the pool
    sync_seconds: int
    accuracy: dict[int, LocationAccuracy] = field(default_factory=dict)
    # Orders each location with a daily capacity took today (read with the context: routing's
    # ``used_today`` in the same request need not read the counters again).
    used_today: dict[int, int] = field(default_factory=dict)


def sync_period_seconds(channel: Channel) -> int:
    if channel.sync_mode == SyncMode.BATCH:
        return channel.sync_interval_seconds
    if channel.sync_mode == SyncMode.NEAR_REALTIME:
        return channel.sync_window_seconds
    return 0


def _context_rows(*, with_accuracy: bool, capacity_days: tuple[date, date] | None = None) -> list[tuple]:
    """Locations, quota channels, visibility (groups expanded), accuracy and (with
    ``capacity_days``, the UTC days around today) the capacity counters in ONE round trip (none
    of its own when they were read ahead: ``channel_contexts_read_ahead``)."""
    sql, params = _context_statement(with_accuracy=with_accuracy, capacity_days=capacity_days)
    if _pg():
        return fetch_prepared(sql, params, prefix="omni_atp_")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _context_statement(*, with_accuracy: bool, capacity_days: tuple[date, date] | None) -> tuple[str, list]:
    """``_context_rows``' statement and its parameters. One text object per shape (kept): built
    once, and the same object every call (its hash, for the prepared statement's name, computed once)."""
    key = (with_accuracy, bool(capacity_days))
    sql = _CONTEXT_TEXTS.get(key)
    if sql is None:
        sql = _CONTEXT_TEXTS[key] = _context_text(*key)
    return sql, [True, True, True, *(capacity_days or ())]


# (with accuracy, with the capacity counters) → the statement's text
_CONTEXT_TEXTS: dict[tuple[bool, bool], str] = {}


def _context_text(with_accuracy: bool, with_capacity: bool) -> str:
    members = LocationGroup.locations.through._meta.db_table
    accuracy = (
        " UNION ALL SELECT 'A', location_id, CAST(counts AS BIGINT), CAST(accurate AS BIGINT), NULL "
        "FROM allocation_locationaccuracystat" if with_accuracy else ""
    )
    # A counter row: location, orders, daily capacity, and "<day> <time zone>" (which local day it
    # is); a paused location (daily capacity 0) is a 'P' row, full whatever its counters say.
    capacity = (
        f" UNION ALL SELECT 'C', d.location_id, CAST(d.orders AS BIGINT), CAST(l.daily_capacity AS BIGINT), "
        f"CAST(d.day AS VARCHAR(10)) || ' ' || l.timezone FROM {LocationDayLoad._meta.db_table} d "
        f"JOIN inventory_location l ON l.id = d.location_id "
        f"WHERE l.daily_capacity IS NOT NULL AND d.day >= %s AND d.day <= %s"
        f" UNION ALL SELECT 'P', id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), NULL FROM inventory_location "
        f"WHERE daily_capacity = 0" if with_capacity else ""
    )
    sql = f"""
        SELECT 'L', id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), kind FROM inventory_location WHERE is_active = %s
        UNION ALL
        SELECT DISTINCT 'Q', q.channel_id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), NULL
        FROM allocation_channelquota q JOIN allocation_channel c ON c.id = q.channel_id
        WHERE q.is_active = %s AND c.is_active = %s
        UNION ALL
        SELECT 'V', r.channel_id, COALESCE(r.location_id, m.location_id), CAST(NULL AS BIGINT), NULL
        FROM allocation_channelvisibility r LEFT JOIN {members} m ON m.locationgroup_id = r.group_id{accuracy}{capacity}"""
    return sql


def _context_args(channels: Sequence[Channel], now: datetime, with_accuracy: bool) -> dict:
    utc_day = now.astimezone(dt_timezone.utc).date()
    with_capacity = any(ch.kind != ChannelKind.POS for ch in channels)
    return {"with_accuracy": with_accuracy or any(ch.accuracy_haircut_enabled for ch in channels),
            "capacity_days": (utc_day - timedelta(days=1), utc_day + timedelta(days=1)) if with_capacity else None}


def channel_contexts_read_ahead(*, channels: Sequence[Channel], now: datetime | None = None,
                                with_accuracy: bool = False) -> None:
    """Send ``channel_contexts``' statement (same arguments) in front of the connection's next
    statement, for ``channel_contexts`` to take its rows without a round trip of its own
    (``omni.prepared.read_ahead_prepared``): for a caller whose next statement cannot change
    them (intake's insert of the order). PostgreSQL only; otherwise, or when anything else is
    sent in between, ``channel_contexts`` reads them itself."""
    if _pg():
        sql, params = _context_statement(**_context_args(channels, now or timezone.now(), with_accuracy))
        read_ahead_prepared(sql, params, prefix="omni_atp_")


def channel_contexts(*, channels: Sequence[Channel], now: datetime | None = None,
                     with_accuracy: bool = False) -> dict[int, ChannelContext]:
    """What the ATP query needs for these channels, from one query (see ``_context_rows``) and,
    unless every channel is a POS, one for today's capacity counters. ``with_accuracy``: read the
    locations' stock accuracy even when no channel applies the haircut (routing scores it)."""
    kinds: dict[int, str] = {}
    quota_channels: set[int] = set()
    visible: dict[int, set[int]] = defaultdict(set)
    accuracy: dict[int, LocationAccuracy] = {}
    # Today's capacity counters come with the same round trip (a till sale at the POS needs none).
    now = now or timezone.now()
    load: dict[int, tuple[int, int]] = {}  # location → (orders today, daily capacity)
    paused: set[int] = set()
    rows = _context_rows(**_context_args(channels, now, with_accuracy))
    for tag, a, b, c, d in rows:
        if tag == "L":
            kinds[int(a)] = d
        elif tag == "Q":
            quota_channels.add(int(a))
        elif tag == "V" and b is not None:
            visible[int(a)].add(int(b))
        elif tag == "A":
            accuracy[int(a)] = LocationAccuracy(counts=int(b), accurate=int(c))
        elif tag == "C":
            day, _, tz_name = d.partition(" ")
            if date.fromisoformat(day) == local_day(tz_name, now):
                load[int(a)] = (int(b), int(c))
        elif tag == "P":
            paused.add(int(a))
    own = frozenset(i for i, k in kinds.items() if k != LocationKind.SUPPLIER)
    # As ``inventory.selectors.locations_at_capacity``: used up today, or paused.
    full = frozenset(loc for loc, (n, cap) in load.items() if n >= cap) | paused
    used_today = {loc: n for loc, (n, _cap) in load.items()}
    suppliers = sorted(i for i, k in kinds.items() if k == LocationKind.SUPPLIER)
    contexts = {}
    for channel in channels:
        def pct(location_id: int, channel: Channel = channel) -> int:
            acc = accuracy.get(location_id)
            if channel.accuracy_haircut_enabled and acc and acc.percent < channel.accuracy_threshold_percent:
                return 100 - channel.accuracy_haircut_percent
            return 100

        # Stock at a location whose daily capacity today's orders used up cannot be promised to a
        # channel whose orders are routed there (a till sale at the POS needs no capacity).
        mine = visible.get(channel.pk, set()) & own
        if channel.kind != ChannelKind.POS:
            mine -= full
        contexts[channel.pk] = ChannelContext(
            channel=channel,
            visible_pct={i: pct(i) for i in sorted(mine)} if channel.is_active else {},
            supplier_pct={i: pct(i) for i in suppliers} if channel.allows_dropship and channel.is_active else {},
            quota_others={q: frozenset(visible.get(q, set()) & own) for q in sorted(quota_channels) if q != channel.pk},
            own_location_ids=own,
            sync_seconds=sync_period_seconds(channel),
            accuracy=accuracy,
            used_today=used_today,
        )
    return contexts


def channel_sellable_location_ids(*, channel: Channel) -> set[int]:
    """The locations a channel's visibility rules let it sell from (active own locations and, for a
    drop-ship channel, the active suppliers), whether or not their capacity is used up today: where
    a merchandiser may pin an order line by hand (the pin then claims capacity itself)."""
    if not channel.is_active:
        return set()
    kinds: dict[int, str] = {}
    visible: set[int] = set()
    for tag, a, b, _c, d in _context_rows(with_accuracy=False):
        if tag == "L":
            kinds[int(a)] = d
        elif tag == "V" and b is not None and int(a) == channel.pk:
            visible.add(int(b))
    own = {i for i, k in kinds.items() if k != LocationKind.SUPPLIER}
    suppliers = {i for i, k in kinds.items() if k == LocationKind.SUPPLIER} if channel.allows_dropship else set()
    return (visible & own) | suppliers


def channel_location_ids(*, channel: Channel, context: ChannelContext | None = None) -> set[int]:
    """The locations a channel sells from, exactly as its ATP counts them: the visible active
    non-supplier locations and, for a drop-ship channel, the active suppliers. ``context``: the
    channel's context already loaded in this request (saves loading it again)."""
    ctx = context if context is not None else channel_contexts(channels=[channel])[channel.pk]
    return set(ctx.visible_pct) | set(ctx.supplier_pct)
