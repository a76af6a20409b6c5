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
from datetime import datetime

from django.db import connection

from allocation.accuracy.selectors import LocationAccuracy
from allocation.channels.models import Channel, ChannelKind, LocationGroup, SyncMode
from inventory.models import LocationKind
from inventory.selectors import locations_at_capacity

from .sql import _execute_prepared, _pg


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


def sync_period_seconds(channel: Channel) -> int:
    if channel.sync_mode == SyncMode.BATCH:
        return channel.sync_interval_seconds
    if channel.sync_mode == SyncMode.NEAR_REALTIME:
        return channel.sync_window_seconds
    return 0


def _context_rows(*, with_accuracy: bool) -> list[tuple]:
    """Locations, quota channels, visibility (groups expanded) and accuracy in ONE round trip."""
    members = LocationGroup.locations.through._meta.db_table
    accuracy = (
        " UNION ALL SELECT 'A', location_id, CAST(counts AS BIGINT), CAST(accurate AS BIGINT), NULL "
        "FROM allocation_locationaccuracystat" if with_accuracy else ""
    )
    sql = f"""
        SELECT 'L', id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), kind FROM inventory_location WHERE is_active = %s
        UNION ALL
        SELECT DISTINCT 'Q', q.channel_id, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), NULL
        FROM allocation_channelquota q JOIN allocation_channel c ON c.id = q.channel_id
        WHERE q.is_active = %s AND c.is_active = %s
        UNION ALL
        SELECT 'V', r.channel_id, COALESCE(r.location_id, m.location_id), CAST(NULL AS BIGINT), NULL
        FROM allocation_channelvisibility r LEFT JOIN {members} m ON m.locationgroup_id = r.group_id{accuracy}"""
    with connection.cursor() as cursor:
        if _pg():
            _execute_prepared(cursor, sql, [True, True, True])
        else:
            cursor.execute(sql, [True, True, True])
        return cursor.fetchall()


def channel_contexts(*, channels: Sequence[Channel], now: datetime | None = None) -> dict[int, ChannelContext]:
    """What the ATP query needs for these channels, from one query (see ``_context_rows``)."""
    kinds: dict[int, str] = {}
    quota_channels: set[int] = set()
    visible: dict[int, set[int]] = defaultdict(set)
    accuracy: dict[int, LocationAccuracy] = {}
    for tag, a, b, c, d in _context_rows(with_accuracy=any(ch.accuracy_haircut_enabled for ch in channels)):
        if tag == "L":
            kinds[int(a)] = d
        elif tag == "Q":
            quota_channels.add(int(a))
        elif tag == "V" and b is not None:
            visible[int(a)].add(int(b))
        elif tag == "A":
            accuracy[int(a)] = LocationAccuracy(counts=int(b), accurate=int(c))
    own = frozenset(i for i, k in kinds.items() if k != LocationKind.SUPPLIER)
    full = locations_at_capacity(now=now) if any(ch.kind != ChannelKind.POS for ch in channels) else frozenset()
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


def channel_location_ids(*, channel: Channel) -> set[int]:
    """The locations a channel sells from, exactly as its ATP counts them: the visible active
    non-supplier locations and, for a drop-ship channel, the active suppliers."""
    ctx = channel_contexts(channels=[channel])[channel.pk]
    return set(ctx.visible_pct) | set(ctx.supplier_pct)
