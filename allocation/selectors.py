"""Reads for allocation: visible locations and ATP.

NOTE: ``atp_for_channel`` is the foundation's first cut (Σ max(on_hand − reserved, 0) over visible
locations). The allocation issue refines it with safety stock, quotas, virtual supplier stock, the
lag-aware buffer and the accuracy haircut, keeping this signature.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Q, Sum
from django.db.models.functions import Greatest

from inventory.models import Location, StockLevel

from .models import Channel, ChannelVisibility


def channel_location_ids(*, channel: Channel) -> set[int]:
    rules = ChannelVisibility.objects.filter(channel=channel)
    direct = rules.filter(location__isnull=False).values_list("location_id", flat=True)
    grouped = Location.objects.filter(groups__in=rules.filter(group__isnull=False).values("group_id")).values_list("id", flat=True)
    return set(
        Location.objects.filter(Q(id__in=direct) | Q(id__in=grouped), is_active=True).values_list("id", flat=True)
    )


def atp_for_channel(*, channel: Channel, product_ids: Iterable[int]) -> dict[int, int]:
    product_ids = list(product_ids)
    result = dict.fromkeys(product_ids, 0)
    rows = (
        StockLevel.objects.filter(product_id__in=product_ids, location_id__in=channel_location_ids(channel=channel))
        .values("product_id")
        .annotate(atp=Sum(Greatest(F("on_hand") - F("reserved"), 0)))
    )
    for row in rows:
        result[row["product_id"]] = row["atp"] or 0
    return result
