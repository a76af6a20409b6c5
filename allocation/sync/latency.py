"""Sync latency: stock change commit → channel acknowledgement, per channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from allocation.channels.models import Channel

from .models import SyncMessage


@dataclass(frozen=True)
class LatencyStats:
    channel_id: int
    channel: str
    pushes: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def _nearest_rank(values: list[int], q: float) -> float | None:
    if not values:
        return None
    index = max(int(-(-q * len(values) // 1)) - 1, 0)  # ceil(q·n) − 1
    return float(values[min(index, len(values) - 1)])


def sync_latency_percentiles(*, since: datetime | None = None) -> list[LatencyStats]:
    """Per channel: p50/p95/p99 of (stock change commit → channel acknowledgement) since ``since``
    (default: the last 24 hours). PostgreSQL computes them in one grouped query."""
    since = since or timezone.now() - timedelta(hours=24)
    names = dict(Channel.objects.values_list("id", "code"))
    if connection.vendor == "postgresql":
        table = SyncMessage._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT channel_id, count(*), "  # noqa: S608 - table name from model meta
                f"percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) "
                f"FROM {table} WHERE latency_ms IS NOT NULL AND acked_at >= %s GROUP BY channel_id ORDER BY channel_id",
                [since],
            )
            return [LatencyStats(cid, names.get(cid, str(cid)), n, *(float(v) for v in p)) for cid, n, p in cursor.fetchall()]
    by_channel: dict[int, list[int]] = {}
    for cid, latency in (
        SyncMessage.objects.filter(latency_ms__isnull=False, acked_at__gte=since).order_by("channel_id", "latency_ms")
        .values_list("channel_id", "latency_ms")
    ):
        if latency is not None:  # excluded by the query; narrows the type
            by_channel.setdefault(cid, []).append(latency)
    return [
        LatencyStats(cid, names.get(cid, str(cid)), len(v), _nearest_rank(v, 0.5), _nearest_rank(v, 0.95), _nearest_rank(v, 0.99))
        for cid, v in sorted(by_channel.items())
    ]
