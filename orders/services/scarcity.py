"""Scarcity at intake: which lines of a new order lose a scarce SKU to demand already waiting.

The decision (made once, here): scarcity is judged on the ORDERING CHANNEL's ATP
(``allocation.selectors.atp_for_channel``: the locations it may sell from, less safety stock,
buffers and what other channels' quotas protect) — not on the pool. What this channel may sell
is exactly what its claims compete for, so a SKU is scarce for a channel when its ATP is below the
channel's ``scarcity_threshold``. Below it, the new line and the backordered lines waiting for the
SKU are ranked by the priority rules (``orders.routing.scarcity``) and the channel's ATP goes
down the ranking; a line that does not get its whole quantity loses: backordered, or the whole
order rejected when the channel's ``shortage_policy`` says so. Backorder allocation ranks the
waiting lines by the same rules (``claim_of_line``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils import timezone

from allocation.models import Channel, ShortagePolicy
from omni.errors import InsufficientStock
from orders.models import LineStatus, OrderLine
from orders.routing.scarcity import Claim, scarcity_decide


def claim_of_line(line: OrderLine) -> Claim:
    """A placed line's claim on its SKU (``line.order.channel`` loaded)."""
    o = line.order
    return Claim(
        label=f"order {o.external_id} ({o.channel.code})", quantity=line.quantity, channel_code=o.channel.code,
        margin_rank=o.channel.margin_rank, strategic_priority=o.channel.strategic_priority,
        customer_tier=o.customer_tier, delivery_mode=o.delivery_mode, created_at=o.created_at,
    )


def scarcity_losers(
    *, channel: Channel, customer_tier: str, delivery_mode: str, lines: Sequence[OrderLine], channel_atp: Mapping[int, int],
) -> list[tuple[OrderLine, str]]:
    """Lines of a new order that lose a scarce SKU, with the reason; ``channel_atp`` is the
    channel's ATP per product id. Raises ``InsufficientStock`` ``scarce_stock_rejected`` when the
    channel rejects orders that lose."""
    threshold = channel.scarcity_threshold
    if not threshold or not lines:
        return []
    atp = dict(channel_atp)
    scarce = {p for p, a in atp.items() if a < threshold}
    if not scarce:
        return []
    waiting: dict[int, list[Claim]] = {p: [] for p in scarce}
    for wl in (OrderLine.objects.filter(status=LineStatus.BACKORDERED, product_id__in=scarce)
               .select_related("order__channel").order_by("id")):
        waiting[wl.product_id].append(claim_of_line(wl))
    losers: list[tuple[OrderLine, str]] = []
    now = timezone.now()
    for line in lines:
        if line.product_id not in scarce:
            continue
        claim = Claim(label="this order", quantity=line.quantity, channel_code=channel.code, margin_rank=channel.margin_rank,
                      strategic_priority=channel.strategic_priority, customer_tier=customer_tier,
                      delivery_mode=delivery_mode, created_at=now)
        verdict = scarcity_decide(sku=line.product.sku, claim=claim, atp=atp[line.product_id], threshold=threshold,
                                  waiting=waiting[line.product_id])
        if verdict.wins:
            atp[line.product_id] -= line.quantity
        else:
            losers.append((line, verdict.reason))
    if losers and channel.shortage_policy == ShortagePolicy.REJECT:
        text = " ".join(r for _l, r in losers)
        raise InsufficientStock(
            f"Order rejected: {text} Channel {channel.code} rejects orders that lose scarce stock. Nothing was reserved.",
            code="scarce_stock_rejected",
            details={"lines": [{"line": ln.line_no, "sku": ln.product.sku, "requested": ln.quantity, "reason": r}
                               for ln, r in losers]},
        )
    return losers
