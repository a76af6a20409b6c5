"""What happened to an order, as one list in time order: its own events, and those that apps above
``orders`` register (fulfillment's picks, shipments, pickups ...), without ``orders`` importing them.

An app adds a source at start-up (``timeline_source_register`` in its ``AppConfig.ready``): a function
of the order giving ``TimelineEntry`` rows. ``order_timeline`` merges them all by time; the order's
own event comes first when two happen at the same instant (it is usually the cause)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from .models import Order, OrderEvent


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    text: str


TimelineSource = Callable[[Order], Iterable[TimelineEntry]]
_SOURCES: dict[str, TimelineSource] = {}


def timeline_source_register(name: str, source: TimelineSource) -> None:
    """Add (or replace, under the same ``name``) a source of timeline rows."""
    _SOURCES[name] = source


def order_timeline(order: Order, *, sentence: Callable[[OrderEvent], str]) -> list[TimelineEntry]:
    """The order's events (worded by ``sentence``) and every registered source's rows, by time."""
    rows = [(e.created_at, 0, i, TimelineEntry(e.created_at, e.actor, sentence(e)))
            for i, e in enumerate(order.events.order_by("id"))]
    for rank, source in enumerate(_SOURCES.values(), start=1):
        rows.extend((entry.at, rank, i, entry) for i, entry in enumerate(source(order)))
    return [entry for *_key, entry in sorted(rows, key=lambda r: (r[0], r[1], r[2]))]
