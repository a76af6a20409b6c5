"""The fulfilment steps of an order in words, for the order's timeline in the admin (``orders``
shows them through ``orders.timeline``'s registry: it may not import this app).

Rejections and re-routes are left out here: the order's own events already say them (which
location could not fill how many, where the units went), and the customer's question and answer
are order events too — only what the order does not record is added."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orders.models import Order
from orders.timeline import TimelineEntry

from .models import WorkEvent, WorkStatus

S = WorkStatus


def _units(lines: list[dict[str, Any]]) -> str:
    return ", ".join(f"{ln.get('quantity', '')} × {ln.get('sku', '')}" for ln in lines if ln.get("quantity"))


def _transition(e: WorkEvent, here: str, pickup: str) -> str | None:
    d = e.data or {}
    texts: dict[str, Callable[[], str]] = {
        S.PICKING: lambda: f"{here}: picking started",
        S.PICKED: lambda: f"{here}: everything picked",
        S.PACKED: lambda: f"{here}: packed" + (f" ({d['box_type']})" if d.get("box_type") else ""),
        S.SHIPPED: lambda: (f"{here}: shipped" + (f" with {d['carrier']}" if d.get("carrier") else "")
                            + (f", tracking {d['tracking_number']}" if d.get("tracking_number") else "")),
        S.IN_TRANSIT: lambda: f"{here}: sent to {d.get('to') or pickup} for pickup (" + _units(d.get("lines", [])) + ")",
        S.READY_FOR_PICKUP: lambda: f"Ready for pickup at {pickup}; the customer was sent the pickup code",
        S.COLLECTED: lambda: f"Collected at {pickup}" + (" (part of it; the rest declined)" if d.get("partial") else ""),
        S.EXPIRED: lambda: (f"Not collected at {pickup} in time: expired, units released"
                            + (f", put-back task #{d['put_back_task']}" if d.get("put_back_task") else "")),
        S.CANCELLED: lambda: f"{here}: work cancelled" + (f" ({d['reason']})" if d.get("reason") else ""),
    }
    text = texts.get(e.to_status)
    return text() if text is not None else None


def _sentence(e: WorkEvent) -> str | None:
    d = e.data or {}
    here = e.work.location.code
    pickup = e.work.pickup_location.code if e.work.pickup_location is not None else here
    if e.kind == "transition":
        return _transition(e, here, pickup)
    if e.kind == "picked":
        return f"{here}: picked {d.get('quantity', '')} × {d.get('sku', '')}"
    if e.kind == "arrived":
        return f"{pickup}: transfer arrived ({_units(d.get('lines', []))})" + (f"; {d['reason']}" if d.get("reason") else "")
    if e.kind == "handed_over":
        who = d.get("collector_name", "")
        check = ", ".join(x for x in (d.get("relation") or "", f"{str(d['id_kind']).replace('_', ' ')} checked" if d.get("id_kind") else "") if x)
        return f"Handed over at {pickup} to {who}" + (f" ({check})" if check else "") + (
            f": {_units(d.get('lines', []))}" if d.get("lines") else "")
    if e.kind == "customer_choice_expired":
        outcomes = ", ".join(f"line {ln['line']} {ln.get('outcome', '')}".replace("_", " ") for ln in d.get("lines", []))
        return "The customer did not answer in time" + (f": {outcomes}" if outcomes else "")
    if e.kind == "put_back":
        return f"{pickup}: put-back task #{d.get('put_back_task', '')} for the uncollected goods"
    return None


def order_fulfilment_timeline(order: Order) -> list[TimelineEntry]:
    """The order's work events that say something the order's own events do not."""
    rows = []
    for e in WorkEvent.objects.filter(work__order=order).select_related("work__location", "work__pickup_location").order_by("id"):
        text = _sentence(e)
        if text:
            rows.append(TimelineEntry(e.at, e.actor_label, text))
    return rows
