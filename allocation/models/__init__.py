"""Every model of allocation, by sub-domain: channels and visibility (``channels``), safety stock
(``safety_stock``), stock accuracy (``accuracy``), channel sync (``sync``).
``from allocation.models import Channel`` is the import other apps use."""

from allocation.accuracy.models import LocationAccuracyStat
from allocation.channels.models import (
    Channel,
    ChannelKind,
    ChannelQuota,
    ChannelVisibility,
    LocationGroup,
    ShortagePolicy,
    SyncMode,
)
from allocation.safety_stock.models import (
    SafetyStockMethod,
    SafetyStockModifier,
    SafetyStockModifierKind,
    SafetyStockPolicy,
    SafetyStockScope,
)
from allocation.sync.models import ChannelSync, EndpointMode, MessageKind, MessageStatus, SyncMessage, SyncState

__all__ = [
    "Channel", "ChannelKind", "ChannelQuota", "ChannelSync", "ChannelVisibility", "EndpointMode", "LocationAccuracyStat",
    "LocationGroup", "MessageKind", "MessageStatus", "SafetyStockMethod", "SafetyStockModifier", "SafetyStockModifierKind",
    "SafetyStockPolicy", "SafetyStockScope", "ShortagePolicy", "SyncMessage", "SyncMode", "SyncState",
]
