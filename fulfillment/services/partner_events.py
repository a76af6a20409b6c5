"""Webhook events to the order's channel for what happened to its fulfilment: ``ready_for_pickup``,
``shipped``, ``collected``, ``rejected``, ``rerouted``, ``expired``, ``returned`` and
``customer_choice_requested``.

They go through ``allocation.sync.publish.sync_event_publish`` (the stock sync's log: one sequence
per channel, signed push, retries, dead letters, the admin's *Resend partner event*), called
**inside the transaction of the change itself**: the message row is the outbox. A change that
commits has its event; a change that is refused or rolled back has none; a push that fails later is
retried from the row. Callers publish last in their transaction (after every order and stock row
they lock), so the channel's sequence lock is held as briefly as possible and always taken after
the order's lock (never the other way round: no deadlock between two fulfilments of one channel).

Every payload names the order (``order``: its external id — the admin lists an order's events by
it), the ``channel``, the ``fulfillment`` (work id) and its ``kind``, the ``location`` (code) where
it happened, the event time ``at`` (ISO 8601) and the order ``lines`` concerned with their
quantities; each kind adds its own facts (tracking number, reason, from/to …)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from allocation.sync.models import SyncMessage
from allocation.sync.publish import sync_event_publish
from fulfillment.models import Work, WorkLine
from inventory.models import Location
from orders.models import Order


def event_line(line: WorkLine, quantity: int, **more: Any) -> dict[str, Any]:
    """One order line in a payload: its number (the partner's reference), SKU and units."""
    return {"line": line.order_line.line_no, "sku": line.product.sku, "quantity": quantity, **more}


def work_partner_event(
    *, work: Work, kind: str, lines: Iterable[dict[str, Any]], location: Location | None = None,
    at: datetime | None = None, **extra: Any,
) -> SyncMessage:
    """Publish one event about ``work`` to its order's channel, in the caller's transaction."""
    return order_partner_event(order=work.order, kind=kind, lines=lines, location=location or work.location, work=work,
                               at=at, **extra)


def order_partner_event(
    *, order: Order, kind: str, lines: Iterable[dict[str, Any]], location: Location, work: Work | None = None,
    at: datetime | None = None, **extra: Any,
) -> SyncMessage:
    """Publish one event about ``order`` (and the work it concerns, if one does) to its channel."""
    payload: dict[str, Any] = {
        "order": order.external_id, "channel": order.channel.code, "fulfillment": work.pk if work else None,
        "fulfillment_kind": work.kind if work else None, "location": location.code,
        "at": (at or timezone.now()).isoformat(), "lines": list(lines), **extra,
    }
    return sync_event_publish(channel=order.channel, kind=kind, payload=payload)
