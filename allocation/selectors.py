"""Reads for allocation: visible locations and ATP.

The ATP computation lives in ``allocation/atp.py`` (set-based SQL, documented formulas); this module
keeps the stable entry points other apps import.
"""

from __future__ import annotations

from django.db.models import Q

from inventory.models import Location, LocationKind

from .atp import (  # noqa: F401  (re-exported for other apps)
    AtpComponents,
    LocationAvailability,
    PoolAvailability,
    ScarcityInput,
    atp_components,
    atp_for_channel,
    availability_for_channels,
    channel_location_available,
    location_availability,
    pool_availability,
    reservable_floor_by_level,
    scarcity_inputs,
)
from .models import Channel, ChannelVisibility

__all__ = [
    "AtpComponents", "LocationAvailability", "PoolAvailability", "ScarcityInput", "atp_components", "atp_for_channel",
    "availability_for_channels", "channel_location_available", "channel_location_ids", "location_availability",
    "pool_availability", "reservable_floor_by_level", "scarcity_inputs",
]


def channel_location_ids(*, channel: Channel) -> set[int]:
    """The locations a channel may sell from, exactly as ATP counts them (``allocation.atp``): the
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
