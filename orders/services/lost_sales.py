"""Lost sales: demand Omni refused, recorded once the refusal is final, so the KPI (in
``omni.insights``) is a sum over rows, never a hand-kept counter.

Two places refuse demand: order intake (no ATP for the channel, other channels' quotas holding
the units back, a scarce SKU lost under a "reject" shortage policy) and a rejected line that no
other location could take (its units given up, not re-routed). Each row says whether the pool —
on hand less reserved, over every own location — held the units elsewhere at that moment.

An intake refusal is decided once, at the boundary, never inside work that may still be rolled
back: intake computes the rows after its own transaction rolled back and hands them on the
exception (``exc.lost_sales``, not yet written); ``lost_sales_write`` is the one place that writes
them. ``order_create`` calls it itself, unless a caller that owns the refusal's outcome opened
``lost_sales_deferred()`` — the idempotent API call (its handler's savepoint is rolled back after
the refusal; it writes them once that is done, with the key's stored answer, so a replay writes
nothing), or a caller that may still serve the demand another way (a pickup refused, then
delivered). A refused order is counted once per SKU however often it is sent again, under any
key (a partial unique index on channel, order ref, SKU for intake reasons).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

from allocation.models import Channel
from allocation.selectors import atp_components, pool_availability
from inventory.models import Product
from omni.errors import InsufficientStock, OmniError
from orders.models import INTAKE_LOST_SALE_REASONS, LostSale, LostSaleReason


def _pool_free(product_ids: Sequence[int]) -> dict[int, int]:
    return {pid: max(p.physical - p.reserved, 0) for pid, p in pool_availability(product_ids=product_ids).items()}


def _rows(*, channel: Channel, items: Sequence[tuple[Product, int, Decimal, str]], order_ref: str = "") -> list[LostSale]:
    items = [it for it in items if it[1] > 0]
    if not items:
        return []
    free = _pool_free([p.pk for p, _q, _price, _r in items])
    return [LostSale(channel=channel, product=p, quantity=q, unit_price=price, reason=reason, pool_free=free.get(p.pk, 0),
                     pool_could_cover=free.get(p.pk, 0) >= q, order_ref=(order_ref or "")[:128])
            for p, q, price, reason in items]


def lost_sales_record(
    *, channel: Channel, items: Sequence[tuple[Product, int, Decimal, str]], order_ref: str = "",
) -> list[LostSale]:
    """Record refused demand that is final where it happens (units of a line given up, with the
    order locked): (product, units, unit price, reason) per item, with the pool's free units of
    each SKU now. In the caller's transaction: undone only with the give-up itself."""
    rows = _rows(channel=channel, items=items, order_ref=order_ref)
    return LostSale.objects.bulk_create(rows) if rows else []


_INTAKE = INTAKE_LOST_SALE_REASONS
_deferred: ContextVar[int] = ContextVar("lost_sales_deferred", default=0)


@contextmanager
def lost_sales_deferred() -> Iterator[None]:
    """Inside this block an intake refusal's lost sales are not written by intake: they ride on the
    exception, and the block's owner calls ``lost_sales_write(exc)`` once the refusal is final
    (outside any work rolled back), or drops them when the demand was served after all."""
    token = _deferred.set(_deferred.get() + 1)
    try:
        yield
    finally:
        _deferred.reset(token)


def lost_sales_of_refused_order(
    *, channel: Channel, lines: Sequence[tuple[Product, int, Decimal]], exc: InsufficientStock, order_ref: str,
) -> list[LostSale]:
    """The SKUs an intake refusal lacked (per ``exc.details["lines"]``: what was requested and what
    the channel had), each with its reason: ``scarcity`` for a lost scarce SKU, ``quota`` when the
    channel's ATP without other channels' quotas would have covered it, else ``no_atp``. Computed
    after intake rolled back, carried on ``exc.lost_sales`` (unsaved) and written by
    ``lost_sales_write`` — now, unless a ``lost_sales_deferred()`` block owns the refusal."""
    wanted: dict[int, tuple[Product, int, Decimal]] = {}
    for product, qty, price in lines:
        before = wanted.get(product.pk)
        wanted[product.pk] = (product, qty + (before[1] if before else 0), before[2] if before else price)
    by_sku = {p.sku: pid for pid, (p, _q, _price) in wanted.items()}
    details = exc.details.get("lines") if isinstance(exc.details, dict) else None
    lacking: set[int] = set()
    if isinstance(details, list):
        for d in details:
            pid = by_sku.get(str(d.get("sku"))) if isinstance(d, dict) else None
            if pid is None:
                continue
            if exc.code == "scarce_stock_rejected" or int(d.get("available", 0)) < wanted[pid][1]:
                lacking.add(pid)
    if not lacking:  # a refusal that names no line: the whole order's demand is refused
        lacking = set(wanted)
    quota_held: set[int] = set()
    if exc.code != "scarce_stock_rejected":
        comps = atp_components(channel=channel, product_ids=sorted(lacking))
        quota_held = {pid for pid, c in comps.items() if c.quota > 0 and c.atp + c.quota >= wanted[pid][1]}
    reason = {pid: (LostSaleReason.SCARCITY if exc.code == "scarce_stock_rejected"
                    else LostSaleReason.QUOTA if pid in quota_held else LostSaleReason.NO_ATP) for pid in lacking}
    rows = _rows(channel=channel, order_ref=order_ref,
                 items=[(wanted[pid][0], wanted[pid][1], wanted[pid][2], reason[pid]) for pid in sorted(lacking)])
    exc.lost_sales = rows  # type: ignore[attr-defined]
    if not _deferred.get():
        lost_sales_write(exc)
    return rows


def lost_sales_write(exc: OmniError) -> list[LostSale]:
    """Write the lost sales a final refusal carries, once: rows already written by an earlier call
    are not written again, nor an intake refusal of an order (channel, order ref, SKU) already
    counted — the same order sent again, under another key or none. Returns the rows written now."""
    rows: list[LostSale] = [r for r in getattr(exc, "lost_sales", None) or [] if r.pk is None and not getattr(r, "_written", False)]
    if not rows:
        return []
    for row in rows:
        row._written = True  # type: ignore[attr-defined]
    refs = {r.order_ref for r in rows if r.reason in _INTAKE and r.order_ref}
    counted = set(LostSale.objects.filter(channel_id=rows[0].channel_id, order_ref__in=refs, reason__in=_INTAKE)
                  .values_list("order_ref", "product_id")) if refs else set()
    fresh = [r for r in rows if not (r.reason in _INTAKE and (r.order_ref, r.product_id) in counted)]
    # ignore_conflicts: a concurrent refusal of the same order counted it first (the partial unique index)
    return LostSale.objects.bulk_create(fresh, ignore_conflicts=True) if fresh else []
