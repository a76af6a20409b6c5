"""Allocation's reads for other apps (orders, access): availability, where a channel sells from,
and the availability rule as SQL for a query of their own (routing's candidates).

The public entry point of allocation's selectors; the code lives by sub-domain in
``allocation/availability/``.
"""

from __future__ import annotations

from allocation.availability.atp import (
    AtpComponents,
    atp_components,
    atp_for_channel,
    availability_for_channels,
    planning_context,
    planning_context_read_ahead,
)
from allocation.availability.context import ChannelContext, channel_location_ids, channel_sellable_location_ids
from allocation.availability.locations import (
    LocationAvailability,
    PoolAvailability,
    location_availability,
    pool_availability,
    reservable_floor_by_level,
    reservable_levels,
)
from allocation.availability.sql import available_sql, location_policy_join

__all__ = [
    "AtpComponents", "ChannelContext", "LocationAvailability", "PoolAvailability", "atp_components", "atp_for_channel",
    "availability_for_channels", "available_sql", "channel_location_ids", "channel_sellable_location_ids",
    "location_availability",
    "location_policy_join", "planning_context", "planning_context_read_ahead", "pool_availability", "reservable_floor_by_level",
    "reservable_levels",
]
