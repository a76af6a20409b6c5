"""Lost sales: demand Omni refused, recorded when the refusal happens, so the KPI (in
``omni.insights``) is a sum over rows, never a hand-kept counter.

Two places refuse demand: order intake (no ATP for the channel, other channels' quotas holding
the units back, a scarce SKU lost under a "reject" shortage policy) and a rejected line that no
other location could take (its units given up, not re-routed). Each row says whether the pool —
on hand less reserved, over every own location — held the units elsewhere at that moment.

An intake refusal rolls its transaction back, and the caller's savepoint may roll back what is
written after it (the API's idempotent call runs the handler in a savepoint). So the refused
order's rows ride on the exception (``exc.lost_sales``) and ``lost_sales_ensure`` writes them
again after such a rollback: written once, whoever catches the refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from allocation.models import Channel
from allocation.selectors import atp_components, pool_availability
from inventory.models import Product
from omni.errors import InsufficientStock, OmniError
from orders.models import LostSale, LostSaleReason


def _pool_free(product_ids: Sequence[int]) -> dict[int, int]:
    return {pid: max(p.physical - p.reserved, 0) for pid, p in pool_availability(product_ids=product_ids).items()}


def lost_sales_record(
    *, channel: Channel, items: Sequence[tuple[Product, int, Decimal, str]], order_ref: str = "",
) -> list[LostSale]:
    """Record refused demand: (product, units, unit price, reason) per item, with the pool's free
    units of each SKU now. In the caller's transaction."""
    items = [it for it in items if it[1] > 0]
    if not items:
        return []
    free = _pool_free([p.pk for p, _q, _price, _r in items])
    rows = [LostSale(channel=channel, product=p, quantity=q, unit_price=price, reason=reason, pool_free=free.get(p.pk, 0),
                     pool_could_cover=free.get(p.pk, 0) >= q, order_ref=(order_ref or "")[:128])
            for p, q, price, reason in items]
    return LostSale.objects.bulk_create(rows)


def lost_sales_of_refused_order(
    *, channel: Channel, lines: Sequence[tuple[Product, int, Decimal]], exc: InsufficientStock, order_ref: str,
) -> list[LostSale]:
    """The SKUs an intake refusal lacked (per ``exc.details["lines"]``: what was requested and what
    the channel had), each with its reason: ``scarcity`` for a lost scarce SKU, ``quota`` when the
    channel's ATP without other channels' quotas would have covered it, else ``no_atp``. Recorded
    now and carried on ``exc.lost_sales`` for ``lost_sales_ensure``."""
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
    rows = lost_sales_record(channel=channel, order_ref=order_ref,
                             items=[(wanted[pid][0], wanted[pid][1], wanted[pid][2], reason[pid]) for pid in sorted(lacking)])
    exc.lost_sales = rows  # type: ignore[attr-defined]
    return rows


def lost_sales_ensure(exc: OmniError) -> None:
    """After a rollback that may have undone them, write again the lost sales a refusal carries
    (nothing when there are none, or when they survived)."""
    rows: list[LostSale] = getattr(exc, "lost_sales", None) or []
    if not rows or LostSale.objects.filter(pk__in=[r.pk for r in rows if r.pk]).exists():
        return
    for row in rows:
        row.pk = None
    exc.lost_sales = LostSale.objects.bulk_create(rows)  # type: ignore[attr-defined]
