"""The pull side of channel sync: the cursor-paged delta feed and the availability snapshot file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from allocation.availability.atp import atp_for_channel
from allocation.channels.models import Channel
from inventory.models import Product
from omni.csv import csv_stream
from omni.errors import ValidationFailed

from .models import MessageKind, SyncMessage

FEED_MAX = 1000


@dataclass(frozen=True)
class FeedPage:
    results: list[dict]
    next_cursor: str
    has_more: bool


def _parse_cursor(cursor: str | None) -> int:
    if cursor in (None, ""):
        return 0
    try:
        value = int(cursor)
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        raise ValidationFailed("cursor must be a value returned as next_cursor.", code="invalid_cursor",
                               details={"cursor": ["Invalid."]})
    return value


def availability_changes(*, channel: Channel, cursor: str | None, limit: int = 500) -> FeedPage:
    """Messages of ``channel`` after ``cursor`` in publish order. The cursor is the last message
    id seen; ids of one channel are committed in order (publishing locks the channel), so a page
    never skips a change that commits later."""
    after = _parse_cursor(cursor)
    limit = max(1, min(int(limit), FEED_MAX))
    rows = list(
        SyncMessage.objects.filter(channel=channel, id__gt=after).order_by("id")
        .values("id", "kind", "product__sku", "sequence", "available", "delta", "event", "payload", "changed_at")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    results = []
    for r in rows:
        item = {"id": r["id"], "type": r["kind"], "sequence": r["sequence"], "changed_at": r["changed_at"]}
        if r["kind"] == MessageKind.EVENT:
            item.update(event=r["event"], payload=r["payload"])
        else:
            item.update(sku=r["product__sku"], available=r["available"], delta=r["delta"])
        results.append(item)
    next_cursor = str(rows[-1]["id"]) if rows else str(after)
    return FeedPage(results=results, next_cursor=next_cursor, has_more=has_more)


def availability_snapshot_csv(*, channel: Channel, chunk: int = 2000) -> Iterator[str]:
    """The full availability file of a channel, streamed: ``sku,name,available`` per active SKU.
    One set-based ATP call per chunk of SKUs."""

    def rows() -> Iterator[list]:
        last_id = 0
        while True:
            products = list(Product.objects.filter(is_active=True, id__gt=last_id).order_by("id").values_list("id", "sku", "name")[:chunk])
            if not products:
                return
            atp = atp_for_channel(channel=channel, product_ids=[p[0] for p in products])
            for pid, sku, name in products:
                yield [sku, name, int(atp.get(pid, 0))]
            last_id = products[-1][0]

    return csv_stream(header=["sku", "name", "available"], rows=rows())
