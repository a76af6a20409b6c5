"""Fulfillment: the work each location does for an order (ship-from-store, BOPIS, ship-to-store,
warehouse shipping), its lines, its append-only event timeline and pickup verifications.

``Work.status`` only moves through ``fulfillment.services.transitions`` (one table, one checked
function over ``omni.transitions``). Stock never moves here: units leave ``on_hand`` and
``reserved`` through ``orders`` services (which call ``inventory``) at ship / hand-over.
"""

from .choice import ChannelChoicePolicy, ChoiceKind, ChoiceStatus, CustomerChoice
from .pickup import (
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
    PickupPolicy,
    PutBackLine,
    PutBackStatus,
    PutBackTask,
)
from .sla import LocationSLA
from .store import StoreSettings
from .work import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    PickupVerification,
    RejectReason,
    Work,
    WorkEvent,
    WorkKind,
    WorkLine,
    WorkStatus,
)

__all__ = [
    "ChannelChoicePolicy", "ChoiceKind", "ChoiceStatus", "CustomerChoice",
    "LocationSLA", "Notification", "NotificationChannel", "NotificationKind", "NotificationStatus", "PickupPolicy", "PutBackLine",
    "PutBackStatus", "PutBackTask",
    "OPEN_STATUSES", "TERMINAL_STATUSES", "PickupVerification", "RejectReason", "StoreSettings", "Work", "WorkEvent", "WorkKind", "WorkLine",
    "WorkStatus",
]
