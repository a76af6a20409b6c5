"""Where a work item's lines put it: picked once nothing is left to pick; rejected or cancelled
once nothing is left at all."""

from __future__ import annotations

from django.utils import timezone

from fulfillment.models import Work, WorkLine, WorkStatus

from .events import Actor
from .transitions import work_can, work_transition


def work_settle_if_done(*, work: Work, actor: Actor) -> Work:
    """Move an open, locked work as its lines say: every unit rejected or cancelled → rejected (if
    any was rejected) or cancelled; picking with nothing left to pick → picked."""
    if not work.is_open or work.status == WorkStatus.IN_TRANSIT:
        return work  # travelling units settle when they arrive
    lines = list(WorkLine.objects.filter(work=work))
    if all(ln.open_quantity == 0 for ln in lines) and not any(ln.handed_over for ln in lines):
        to = WorkStatus.REJECTED if any(ln.rejected for ln in lines) else WorkStatus.CANCELLED
        if work_can(work, to):
            work_transition(work=work, to=to, actor=actor, data={"reason": "nothing left to fulfil"})
        return work
    if work.status == WorkStatus.PICKING and all(ln.to_pick == 0 for ln in lines) and any(ln.wanted for ln in lines):
        work.picked_at = timezone.now()
        work_transition(work=work, to=WorkStatus.PICKED, actor=actor, extra_fields=("picked_at",))
    return work
