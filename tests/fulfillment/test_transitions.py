"""Every (kind, from, to) move: the legal ones move and leave an event; every other is refused
with ``illegal_transition`` and changes nothing."""

from __future__ import annotations

import itertools

import pytest

from fulfillment.models import Work, WorkKind, WorkStatus
from fulfillment.services import KIND_TRANSITIONS, WORK_TRANSITIONS, work_transition
from omni.errors import IllegalTransition

from .factories import place, receive

pytestmark = pytest.mark.django_db

S = WorkStatus
LEGAL = {
    WorkKind.SHIP_FROM_STORE: {
        (S.NEW, S.PICKING), (S.NEW, S.REJECTED), (S.NEW, S.CANCELLED),
        (S.PICKING, S.PICKED), (S.PICKING, S.REJECTED), (S.PICKING, S.CANCELLED),
        (S.PICKED, S.PACKED), (S.PICKED, S.REJECTED), (S.PICKED, S.CANCELLED),
        (S.PACKED, S.SHIPPED), (S.PACKED, S.REJECTED), (S.PACKED, S.CANCELLED),
    },
    WorkKind.BOPIS: {
        (S.NEW, S.PICKING), (S.NEW, S.REJECTED), (S.NEW, S.CANCELLED),
        (S.PICKING, S.PICKED), (S.PICKING, S.REJECTED), (S.PICKING, S.CANCELLED),
        (S.PICKED, S.PACKED), (S.PICKED, S.READY_FOR_PICKUP), (S.PICKED, S.REJECTED), (S.PICKED, S.CANCELLED),
        (S.PACKED, S.READY_FOR_PICKUP), (S.PACKED, S.REJECTED), (S.PACKED, S.CANCELLED),
        (S.READY_FOR_PICKUP, S.COLLECTED), (S.READY_FOR_PICKUP, S.EXPIRED), (S.READY_FOR_PICKUP, S.REJECTED),
        (S.READY_FOR_PICKUP, S.CANCELLED),
    },
}
LEGAL[WorkKind.WAREHOUSE_SHIP] = LEGAL[WorkKind.SHIP_FROM_STORE]
LEGAL[WorkKind.SHIP_TO_STORE] = (
    LEGAL[WorkKind.BOPIS] - {(S.PICKED, S.READY_FOR_PICKUP), (S.PACKED, S.READY_FOR_PICKUP)}
) | {(S.PACKED, S.IN_TRANSIT), (S.IN_TRANSIT, S.READY_FOR_PICKUP), (S.IN_TRANSIT, S.REJECTED), (S.IN_TRANSIT, S.CANCELLED)}


def test_the_table_is_what_each_kind_may_do():
    for kind in WorkKind.values:
        allowed = {(a, b) for a, b in itertools.product(S.values, S.values) if KIND_TRANSITIONS[kind].allows(a, b)}
        assert allowed == LEGAL[kind], kind
        assert allowed <= {(a, b) for a, b in itertools.product(S.values, S.values) if WORK_TRANSITIONS.allows(a, b)}


@pytest.mark.parametrize("kind", [WorkKind.SHIP_FROM_STORE, WorkKind.BOPIS, WorkKind.WAREHOUSE_SHIP, WorkKind.SHIP_TO_STORE])
def test_every_move_is_checked(world, kind):
    receive(world.shirt, world.ist, 5)
    work = place(world, f"T-{kind}", ("SHIRT", 1))
    Work.objects.filter(pk=work.pk).update(kind=kind)
    for a, b in itertools.product(S.values, S.values):
        Work.objects.filter(pk=work.pk).update(status=a, closed_at=None)
        work = Work.objects.get(pk=work.pk)
        events = work.events.count()
        if (a, b) in LEGAL[kind]:
            work_transition(work=work, to=b, actor="tester")
            assert Work.objects.get(pk=work.pk).status == b
            ev = work.events.last()
            assert (ev.from_status, ev.to_status, ev.actor_label) == (a, b, "tester")
            assert (Work.objects.get(pk=work.pk).closed_at is not None) == (b in {S.SHIPPED, S.COLLECTED, S.REJECTED,
                                                                                 S.CANCELLED, S.EXPIRED})
        else:
            with pytest.raises(IllegalTransition) as exc:
                work_transition(work=work, to=b, actor="tester")
            assert exc.value.code == "illegal_transition"
            assert Work.objects.get(pk=work.pk).status == a
            assert work.events.count() == events
