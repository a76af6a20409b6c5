"""Every write of the fulfillment app. Import from here: ``from fulfillment.services import pick``."""

from .events import Actor, work_event_record
from .materialize import materialize
from .rejections import Rejection, reject, work_reject
from .ship_to_store import dispatch, receive
from .transitions import KIND_TRANSITIONS, WORK_TRANSITIONS, work_can, work_transition
from .workflow import Verification, hand_over, mark_ready, pack, pick, pick_by_barcode, ship, start_picking, work_lock

__all__ = [
    "KIND_TRANSITIONS", "WORK_TRANSITIONS", "Actor", "Verification", "dispatch", "hand_over", "mark_ready", "materialize", "pack", "pick",
    "pick_by_barcode", "receive", "reject", "Rejection", "work_reject", "ship", "start_picking", "work_can", "work_event_record", "work_lock", "work_transition",
]
