"""Availability layers, set-based in SQL: one query for any number of channels and SKUs
(the statement itself is built in ``allocation/availability/sql.py``).

Layers (see ``allocation/safety_stock/formulas.py`` for safety-stock precedence):

- physical = ``on_hand``
- available(location) = ``max(on_hand − reserved − location safety stock, 0)``
- ATP(channel, SKU) = ``max(A − H − B − Q + V − L, 0)`` where
  - A = Σ available over the active, non-supplier locations the channel sees;
  - H = accuracy haircut (switch ``channel.accuracy_haircut_enabled``): at a location whose stock
    accuracy over the last ``ACCURACY_DAYS`` days of cycle counts (share of counts without variance,
    materialized every 15 minutes by ``allocation.accuracy.services.location_accuracy_refresh``) is below
    ``channel.accuracy_threshold_percent``, only ``floor(available × (100 − haircut%) / 100)``
    counts; H is the sum of what is discounted;
  - B = the extra SKU buffer: ``max(buffer − Σ location safety stock deducted at visible
    locations, 0)`` with buffer = the SKU × channel policy, else the SKU pool policy, else 0;
  - Q = quota protection for every *other* active channel q with a quota for the SKU (its
    SKU-specific quota, else its default): ``max(min(ceil(pool × share_q / 100), avail_q) −
    avail_q_only, 0)``, pool = Σ available over every active non-supplier location, avail_q = Σ over
    the locations q sees, avail_q_only = Σ over those the channel does not see (q's protection is
    taken there first);
  - V = virtual stock: Σ available at active supplier locations when ``channel.allows_dropship``
    (haircut applies to them too); supplier locations never count in A;
  - L = lag-aware buffer (switch ``channel.lag_buffer_enabled``): ``ceil(sold × T / (VELOCITY_DAYS ×
    86400))`` where sold = the SKU's SALE + FULFILMENT units with ``movement.source == channel.code``
    over the last ``VELOCITY_DAYS`` days and T the channel's sync period in seconds (batch: interval,
    near-real-time: coalescing window, real-time: 0).
- pool(SKU) = ``max(Σ available over every active non-supplier location − pool buffer extra, 0)``.

Selectors for other apps:

- ``atp_components(channel=, product_ids=)`` / ``atp_for_channel`` (ATP figures);
- ``availability_for_channels(channels=, product_ids=)`` (API level: many channels, one context load);
- ``location_availability(product_ids=, location_ids=)`` (per-location layers, with the policy);
- ``reservable_floor_by_level(level_ids=)``: ``{stock level id: safety-stock floor}`` to pass to
  ``inventory.services.reservations_create(floor_by_level=...)`` so a reservation never eats into
  location safety stock;
- ``channel_location_ids(channel=)``: where the channel sells from, as ATP counts it (routing's
  candidates, a partner's read scope);
- ``pool_availability(product_ids=)``: the whole pool per SKU.

Scarcity is judged on the channel's own ATP: intake compares ``atp_for_channel`` with
``channel.scarcity_threshold`` and the priority rules of ``orders.routing.scarcity`` decide who gets
the units.

"available(location)" is written once, as SQL (``allocation/availability/sql.py``:
``available_sql`` with ``location_policy_join``): ATP, the pool, ``location_availability``
(explorer, pickup, the API's breakdown) and routing's candidate query all use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from allocation.channels.models import Channel

from .context import ChannelContext, channel_contexts, channel_contexts_read_ahead
from .sql import VELOCITY_DAYS, _atp_query, _execute


@dataclass(frozen=True, slots=True)
class AtpComponents:
    product_id: int
    channel_id: int
    available: int
    haircut: int
    location_safety_stock: int
    buffer: int
    buffer_source: str
    extra_buffer: int
    quota: int
    virtual: int
    sold_in_window: int
    lag_buffer: int
    atp: int


def _combine(ctx: ChannelContext, row: Sequence) -> AtpComponents:
    _, pid, avail, haircut, ss_used, ch_buf, pool_buf, quota, virtual, sold = row
    avail, haircut, ss_used, quota, virtual, sold = (int(v) for v in (avail, haircut, ss_used, quota, virtual, sold))
    if ch_buf is not None:
        buffer, source = int(ch_buf), "channel"
    elif pool_buf is not None:
        buffer, source = int(pool_buf), "pool"
    else:
        buffer, source = 0, ""
    extra = max(buffer - ss_used, 0)
    lag = 0
    if sold > 0 and ctx.channel.lag_buffer_enabled and ctx.sync_seconds > 0:
        window = VELOCITY_DAYS * 86400
        lag = (sold * ctx.sync_seconds + window - 1) // window
    atp = max(avail - haircut - extra - quota + virtual - lag, 0)
    return AtpComponents(
        product_id=int(pid), channel_id=ctx.channel.pk, available=avail, haircut=haircut, location_safety_stock=ss_used,
        buffer=buffer, buffer_source=source, extra_buffer=extra, quota=quota, virtual=virtual, sold_in_window=sold,
        lag_buffer=lag, atp=atp,
    )


def atp_components_for_contexts(*, contexts: Sequence[ChannelContext], product_ids: Iterable[int] | None,
                                now: datetime | None = None) -> dict[int, dict[int, AtpComponents]]:
    """{channel id: {product id: components}} for these channels, in ONE SQL query.
    ``product_ids=None``: every SKU that has stock or a buffer policy in reach (others: ATP 0)."""
    ids = None if product_ids is None else sorted({int(i) for i in product_ids})
    out: dict[int, dict[int, AtpComponents]] = {c.channel.pk: {} for c in contexts}
    if (ids is not None and not ids) or not contexts:
        return out
    sql, params = _atp_query(contexts, ids, now or timezone.now())
    by_id = {c.channel.pk: c for c in contexts}
    with connection.cursor() as cursor:
        _execute(cursor, sql, params, ids)
        for row in cursor.fetchall():
            comp = _combine(by_id[int(row[0])], row)
            out[comp.channel_id][comp.product_id] = comp
    if ids is not None:  # SKUs with neither stock nor policy in reach: every component 0
        zero = (0, 0, 0, None, None, 0, 0, 0)
        for ctx in contexts:
            for pid in ids:
                if pid not in out[ctx.channel.pk]:
                    out[ctx.channel.pk][pid] = _combine(ctx, (ctx.channel.pk, pid, *zero))
    return out


def atp_components_for_context(*, ctx: ChannelContext, product_ids: Iterable[int] | None, now: datetime | None = None) -> dict[int, AtpComponents]:
    """Every ATP component per SKU for one channel, in one SQL query. ``product_ids=None``: every SKU."""
    return atp_components_for_contexts(contexts=[ctx], product_ids=product_ids, now=now)[ctx.channel.pk]


def atp_components(*, channel: Channel, product_ids: Iterable[int] | None, now: datetime | None = None) -> dict[int, AtpComponents]:
    now = now or timezone.now()
    ctx = channel_contexts(channels=[channel], now=now)[channel.pk]
    return atp_components_for_context(ctx=ctx, product_ids=product_ids, now=now)


def atp_for_channel(*, channel: Channel, product_ids: Iterable[int], context: ChannelContext | None = None) -> dict[int, int]:
    """{product id: ATP} for one channel. Every requested id is present (unknown ids: 0).
    ``context``: the channel's context already loaded in this request (``planning_context``)."""
    product_ids = list(product_ids)
    result = dict.fromkeys(product_ids, 0)
    comps = (atp_components_for_context(ctx=context, product_ids=product_ids) if context is not None
             else atp_components(channel=channel, product_ids=product_ids))
    for pid, comp in comps.items():
        result[pid] = comp.atp
    return result


def planning_context_read_ahead(*, channel: Channel, now: datetime | None = None) -> None:
    """Send ``planning_context``'s read in front of the connection's next statement (intake: the
    insert of the order, which cannot change it), so that ``planning_context`` costs no round trip
    of its own (``channel_contexts_read_ahead``)."""
    channel_contexts_read_ahead(channels=[channel], now=now, with_accuracy=True)


def planning_context(*, channel: Channel, now: datetime | None = None) -> ChannelContext:
    """The channel's context for an order's planning, loaded ONCE per request: the ATP check, the
    routing candidates (``channel_location_ids``), today's capacity counters and the locations'
    accuracy all read it (two queries)."""
    return channel_contexts(channels=[channel], now=now, with_accuracy=True)[channel.pk]


def availability_for_channels(*, channels: Sequence[Channel], product_ids: Iterable[int], now: datetime | None = None
                              ) -> dict[int, dict[int, AtpComponents]]:
    """{channel id: {product id: components}}: the API-level selector. Two round trips whatever the
    number of channels and SKUs: the context, then one ATP query."""
    now = now or timezone.now()
    contexts = channel_contexts(channels=channels, now=now)
    return atp_components_for_contexts(contexts=[contexts[c.pk] for c in channels], product_ids=product_ids, now=now)
