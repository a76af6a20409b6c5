"""The one transition table of fulfillment work, and the one checked function that moves it.

``WORK_TRANSITIONS`` lists every legal move; a kind of work uses only part of it
(``KIND_TRANSITIONS``, derived from it): only ship-from-store and warehouse work is shipped, only pickup work is made
ready for pickup, only ship-to-store work travels. ``work_transition`` refuses anything else with
``illegal_transition`` and records every move as a ``WorkEvent`` with its actor and time.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from django.utils import timezone

from fulfillment.models import Work, WorkKind
from fulfillment.models import WorkStatus as S
from omni.transitions import TransitionTable, transition_apply

from .events import Actor, work_event_record

WORK_TRANSITIONS = TransitionTable(S, {
    S.NEW: {S.PICKING, S.REJECTED, S.CANCELLED},
    S.PICKING: {S.PICKED, S.REJECTED, S.CANCELLED},
    S.PICKED: {S.PACKED, S.READY_FOR_PICKUP, S.REJECTED, S.CANCELLED},
    S.PACKED: {S.SHIPPED, S.IN_TRANSIT, S.READY_FOR_PICKUP, S.REJECTED, S.CANCELLED},
    S.IN_TRANSIT: {S.READY_FOR_PICKUP, S.REJECTED, S.CANCELLED},  # rejected: nothing of it arrived
    S.READY_FOR_PICKUP: {S.COLLECTED, S.EXPIRED, S.REJECTED, S.CANCELLED},
    S.SHIPPED: set(), S.COLLECTED: set(), S.REJECTED: set(), S.CANCELLED: set(), S.EXPIRED: set(),
})

_COMMON = {S.NEW, S.PICKING, S.PICKED, S.PACKED, S.REJECTED, S.CANCELLED}


def _kind_table(statuses: set[str], drop: AbstractSet[tuple[str, str]] = frozenset()) -> TransitionTable:
    """The part of ``WORK_TRANSITIONS`` one kind of work uses."""
    return TransitionTable(S, {
        s: {t for t in WORK_TRANSITIONS.moves[s] if t in statuses and (s, t) not in drop} if s in statuses else set()
        for s in S.values
    })


# Only shipping work is shipped; only pickup work becomes ready for pickup; ship-to-store work
# becomes ready only when it arrived (packed → in transit → ready).
KIND_TRANSITIONS: dict[str, TransitionTable] = {
    WorkKind.SHIP_FROM_STORE: _kind_table(_COMMON | {S.SHIPPED}),
    WorkKind.WAREHOUSE_SHIP: _kind_table(_COMMON | {S.SHIPPED}),
    WorkKind.BOPIS: _kind_table(_COMMON | {S.READY_FOR_PICKUP, S.COLLECTED, S.EXPIRED}),
    WorkKind.SHIP_TO_STORE: _kind_table(_COMMON | {S.IN_TRANSIT, S.READY_FOR_PICKUP, S.COLLECTED, S.EXPIRED},
                                        drop={(S.PICKED, S.READY_FOR_PICKUP), (S.PACKED, S.READY_FOR_PICKUP)}),
}


def work_can(work: Work, to: str) -> bool:
    """May this work move to ``to`` now (its status and its kind allow it)?"""
    return KIND_TRANSITIONS[work.kind].allows(work.status, to)


def work_transition(
    *, work: Work, to: str, actor: Actor, data: dict[str, Any] | None = None, extra_fields: tuple[str, ...] = (),
) -> None:
    """Move ``work`` (locked by the caller) to ``to``, saving ``extra_fields`` set on it first, and
    record the move. An illegal move, or one its kind does not make, changes nothing."""
    what = f"Work {work.pk} ({work.get_kind_display().lower()})"
    before = work.status
    now = timezone.now()
    if to in (S.SHIPPED, S.COLLECTED, S.REJECTED, S.CANCELLED, S.EXPIRED):
        work.closed_at = now
        extra_fields = (*extra_fields, "closed_at")
    transition_apply(obj=work, table=KIND_TRANSITIONS[work.kind], to=to, what=what, extra_fields=tuple(dict.fromkeys(extra_fields)))
    work_event_record(work=work, kind="transition", actor=actor, from_status=before, to_status=to, data=data, at=now)
