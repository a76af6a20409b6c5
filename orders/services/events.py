"""The order timeline: every change leaves an event with its actor."""

from __future__ import annotations

from typing import Any

from omni.bulk import Row, bulk_insert_chain
from omni.instances import new
from orders.models import Order, OrderEvent, RoutingDecision


def order_event_record(*, order: Order, kind: str, actor: str = "system", data: dict[str, Any] | None = None) -> OrderEvent:
    return OrderEvent.objects.create(order=order, kind=kind, actor=(actor or "system")[:150], data=data or {})


class OrderEventBatch:
    """Events of one service call, written together in ONE insert (``flush``) in the order they were
    added: the timeline reads the same as with ``order_event_record`` one by one, for a round trip
    per event less. The routing decisions of the call (``decision_record(batch=…)``) go into the
    same statement. Flush before the transaction ends (nothing is written otherwise)."""

    def __init__(self, order: Order) -> None:
        self.order = order
        self.events: list[OrderEvent] = []
        self.decisions: list[RoutingDecision | Row] = []

    def add(self, *, kind: str, actor: str = "system", data: dict[str, Any] | None = None) -> None:
        # The order by its key once it has one: nothing reads an event's order, and a related
        # instance costs a descriptor here and a check in ``bulk_insert_chain`` (~3 µs an event).
        actor = (actor or "system")[:150]
        if self.order.pk is not None:
            self.events.append(new(OrderEvent, order_id=self.order.pk, kind=kind, actor=actor, data=data or {}))
        else:
            self.events.append(new(OrderEvent, order=self.order, kind=kind, actor=actor, data=data or {}))

    def add_decision(self, record: RoutingDecision | Row) -> None:
        """A routing decision record (not stored yet; an instance or a row) to write with the events."""
        self.decisions.append(record)

    def flush(self, *, keys: bool = True) -> list[OrderEvent]:
        """Write the events (and decisions) added so far; returns the events, in the order added.

        ``keys=False``: nothing reads their keys before the transaction ends (intake answers from
        the events in hand), so the insert goes with the connection's next statement
        (``bulk_insert_chain(keys=False)``), not in a round trip of its own; the events come back
        without keys, their ``created_at`` stamped as the row's."""
        written, decisions = self.events, self.decisions
        self.events, self.decisions = [], []
        bulk_insert_chain((RoutingDecision, decisions), (OrderEvent, written), keys=keys)
        return written
