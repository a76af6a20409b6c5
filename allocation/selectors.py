"""Allocation's reads for other apps (orders, access): availability and where a channel sells from.

The public entry point of allocation's selectors; the code lives by sub-domain
(``allocation/availability/``: ATP, per-location and pool availability; ``allocation/channels/``).
"""

from __future__ import annotations

from allocation.availability.atp import AtpComponents, atp_components, atp_for_channel, availability_for_channels
from allocation.availability.locations import (
    LocationAvailability,
    PoolAvailability,
    ScarcityInput,
    channel_location_available,
    location_availability,
    pool_availability,
    reservable_floor_by_level,
    scarcity_inputs,
)
from allocation.channels.selectors import channel_location_ids

__all__ = [
    "AtpComponents", "LocationAvailability", "PoolAvailability", "ScarcityInput", "atp_components", "atp_for_channel",
    "availability_for_channels", "channel_location_available", "channel_location_ids", "location_availability",
    "pool_availability", "reservable_floor_by_level", "scarcity_inputs",
]
