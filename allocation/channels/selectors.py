"""Reads of channels: where a channel sells from."""

from __future__ import annotations

from django.db.models import Q

from inventory.models import Location, LocationKind

from .models import Channel, ChannelVisibility


def channel_location_ids(*, channel: Channel) -> set[int]:
    """The locations a channel may sell from, exactly as ATP counts them (``allocation.availability``): the
    active non-supplier locations its visibility rules name (directly or through a group) and, when
    it may sell drop-ship, every active supplier. Routing and partner read scopes use this set."""
    if not channel.is_active:
        return set()
    rules = ChannelVisibility.objects.filter(channel=channel)
    direct = rules.filter(location__isnull=False).values_list("location_id", flat=True)
    grouped = Location.objects.filter(groups__in=rules.filter(group__isnull=False).values("group_id")).values_list("id", flat=True)
    sells_from = (Q(id__in=direct) | Q(id__in=grouped)) & ~Q(kind=LocationKind.SUPPLIER)
    if channel.allows_dropship:
        sells_from |= Q(kind=LocationKind.SUPPLIER)
    return set(Location.objects.filter(sells_from, is_active=True).values_list("id", flat=True))
