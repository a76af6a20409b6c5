"""Live figures beside the daily snapshots: what is true right now, read from the raw rows.

- Sync drift per channel: the figure the channel last acknowledged for each SKU (the newest
  acknowledged availability message) against the figure Omni would publish now (the channel's ATP,
  less the absolute-mode hold-back) — how many SKUs differ, and by how much at most. A channel that
  only polls the feed acknowledges nothing and shows no drift.
- Lost sales today so far (the snapshot of today is refreshed by the beat job; this is exact now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connections
from django.db.models import F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from allocation.models import Channel
from allocation.selectors import availability_for_channels
from allocation.sync.models import ChannelSync, EndpointMode, MessageKind, SyncMessage
from inventory.models import Product
from orders.models import LostSale
from orders.selectors import lost_sales_not_bought_later

from .facts import day_bounds


@dataclass(frozen=True)
class ChannelDrift:
    channel_id: int
    code: str
    skus: int  # SKUs the channel has acknowledged a figure for
    drifting: int  # of which the acknowledged figure differs from Omni's figure now
    max_drift: int  # the largest difference, in units
    max_sku: str  # the SKU with the largest difference ("" when none)


def newest_acked_figures(acked: QuerySet[SyncMessage]) -> list[tuple[int, int, int | None]]:
    """(channel, product, available) of the newest message (highest sequence) per channel and SKU
    among ``acked``, in one pass over them: ``DISTINCT ON`` on PostgreSQL, ``ROW_NUMBER()`` over each
    (channel, SKU) elsewhere (SQLite). It was a correlated subquery per message: one index probe for
    each of the log's rows (two weeks of pushes: hundreds of thousands)."""
    fields = ("channel_id", "product_id", "available")
    if connections[acked.db].vendor == "postgresql":
        return list(acked.order_by("channel_id", "product_id", "-sequence").distinct("channel_id", "product_id")
                    .values_list(*fields))
    ranked = acked.order_by().annotate(newest=Window(RowNumber(), partition_by=[F("channel_id"), F("product_id")],
                                          order_by=F("sequence").desc()))
    return list(ranked.filter(newest=1).values_list(*fields))


def sync_drift(*, channel_id: int | None = None) -> list[ChannelDrift]:
    """Per active channel (or the one asked for), in channel code order. One query for the
    acknowledged figures and one ATP query for every channel and SKU involved."""
    acked = SyncMessage.objects.filter(kind=MessageKind.AVAILABILITY, acked_at__isnull=False, product__isnull=False)
    channels = Channel.objects.filter(is_active=True).order_by("code")
    if channel_id:
        channels = channels.filter(pk=channel_id)
        acked = acked.filter(channel_id=channel_id)
    rows = newest_acked_figures(acked)
    by_channel: dict[int, dict[int, int]] = {}
    for ch_id, pid, available in rows:
        by_channel.setdefault(ch_id, {})[pid] = int(available or 0)
    chans = [c for c in channels if c.pk in by_channel]
    product_ids = {pid for f in by_channel.values() for pid in f}
    figures = availability_for_channels(channels=chans, product_ids=product_ids) if chans else {}
    holdback = dict(ChannelSync.objects.filter(channel__in=chans, mode=EndpointMode.ABSOLUTE).values_list("channel_id", "holdback_units"))
    skus = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "sku")) if product_ids else {}
    out = []
    for ch in channels:
        told = by_channel.get(ch.pk, {})
        worst, worst_sku, count = 0, "", 0
        for pid, figure in sorted(told.items()):
            comp = figures.get(ch.pk, {}).get(pid)
            current = max((comp.atp if comp is not None else 0) - holdback.get(ch.pk, 0), 0)
            diff = abs(current - figure)
            if diff:
                count += 1
                if diff > worst:
                    worst, worst_sku = diff, skus.get(pid, "")
        out.append(ChannelDrift(channel_id=ch.pk, code=ch.code, skus=len(told), drifting=count, max_drift=worst, max_sku=worst_sku))
    return out


@dataclass(frozen=True)
class LostToday:
    units: int  # refused today so far
    held_elsewhere: int  # of which the pool held elsewhere


def lost_sales_today(*, channel_id: int | None = None, now: datetime | None = None) -> LostToday:
    start, end = day_bounds((now or timezone.now()).date())
    qs = lost_sales_not_bought_later(LostSale.objects.filter(created_at__gte=start, created_at__lt=end))
    if channel_id:
        qs = qs.filter(channel_id=channel_id)
    agg = qs.aggregate(units=Sum("quantity"), held=Sum("quantity", filter=Q(pool_could_cover=True)))
    return LostToday(units=agg["units"] or 0, held_elsewhere=agg["held"] or 0)
