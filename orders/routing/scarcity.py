"""Scarcity rules: who gets a SKU when the ordering channel's ATP for it is below the channel's
threshold (judged on the channel's ATP, not the pool's: see ``orders.services.scarcity``).

Above the threshold it is first come, first served. Below it, the new order's line competes
with the demand already waiting for that SKU (backordered lines of any channel): claims are
ranked by priority rules — small policy objects, each giving one sort key — and the units the
channel may take (its ATP, which already respects other channels' quotas) go down the ranking.
A line that does not get its whole quantity loses: backordered or rejected per the channel's
``shortage_policy``, with a reason naming what outranked it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from orders.models import TIER_RANK, DeliveryMode


@dataclass(frozen=True)
class Claim:
    """Demand for one SKU: the new line, or a waiting backordered line."""

    label: str
    quantity: int
    channel_code: str
    margin_rank: int
    strategic_priority: int
    customer_tier: str
    delivery_mode: str
    created_at: datetime


class PriorityRule:
    name: ClassVar[str] = ""

    def key(self, claim: Claim) -> int:
        """Lower sorts first (wins)."""
        raise NotImplementedError

    def describe(self, claim: Claim) -> str:
        raise NotImplementedError


class GuaranteedDelivery(PriorityRule):
    name = "guaranteed_delivery"

    def key(self, claim: Claim) -> int:
        return 0 if claim.delivery_mode == DeliveryMode.EXPRESS else 1

    def describe(self, claim: Claim) -> str:
        return "guaranteed (express) delivery" if claim.delivery_mode == DeliveryMode.EXPRESS else "standard delivery"


class CustomerValue(PriorityRule):
    name = "customer_tier"

    def key(self, claim: Claim) -> int:
        return -TIER_RANK.get(claim.customer_tier, 0)

    def describe(self, claim: Claim) -> str:
        return f"{claim.customer_tier} customer"


class ChannelMargin(PriorityRule):
    name = "channel_margin"

    def key(self, claim: Claim) -> int:
        return claim.margin_rank

    def describe(self, claim: Claim) -> str:
        return f"channel {claim.channel_code} margin rank {claim.margin_rank}"


class StrategicPriority(PriorityRule):
    name = "strategic_priority"

    def key(self, claim: Claim) -> int:
        return claim.strategic_priority

    def describe(self, claim: Claim) -> str:
        return f"channel {claim.channel_code} strategic priority {claim.strategic_priority}"


DEFAULT_RULES: tuple[PriorityRule, ...] = (GuaranteedDelivery(), CustomerValue(), ChannelMargin(), StrategicPriority())


def priority_key(claim: Claim, rules: Sequence[PriorityRule] = DEFAULT_RULES) -> tuple:
    """Rules in order, then earliest first."""
    return (*(r.key(claim) for r in rules), claim.created_at)


def deciding_rule(winner: Claim, loser: Claim, rules: Sequence[PriorityRule] = DEFAULT_RULES) -> str:
    for rule in rules:
        if rule.key(winner) != rule.key(loser):
            return f"{rule.describe(winner)} beats {rule.describe(loser)}"
    return "it was placed earlier"


@dataclass(frozen=True)
class ScarcityVerdict:
    sku: str
    atp: int
    threshold: int
    scarce: bool
    granted: int
    requested: int
    outranked_by: tuple[str, ...]
    reason: str

    @property
    def wins(self) -> bool:
        return self.granted >= self.requested


def scarcity_decide(
    *, sku: str, claim: Claim, atp: int, threshold: int, waiting: Sequence[Claim],
    rules: Sequence[PriorityRule] = DEFAULT_RULES,
) -> ScarcityVerdict:
    """Does ``claim`` get its units? ``atp`` is what the claim's channel may take of this SKU."""
    if threshold <= 0 or atp >= threshold:
        granted = min(claim.quantity, max(atp, 0))
        return ScarcityVerdict(sku, atp, threshold, False, granted, claim.quantity, (), "")
    ranked = sorted([*waiting, claim], key=lambda c: priority_key(c, rules))
    left = max(atp, 0)
    ahead: list[Claim] = []
    granted = 0
    for c in ranked:
        if c is claim:
            granted = min(c.quantity, left)
            break
        take = min(c.quantity, left)
        if take:
            ahead.append(c)
        left -= take
    if granted >= claim.quantity:
        reason = f"{sku} is scarce (ATP {atp} < threshold {threshold}) and this order ranks high enough."
        return ScarcityVerdict(sku, atp, threshold, True, granted, claim.quantity, tuple(a.label for a in ahead), reason)
    if ahead:
        why = "; ".join(f"{a.label} ({deciding_rule(a, claim, rules)})" for a in ahead)
        reason = (f"{sku} is scarce (ATP {atp} < threshold {threshold}): {sum(a.quantity for a in ahead)} unit(s) go to "
                  f"higher-priority demand first — {why}; {granted} of {claim.quantity} left for this order.")
    else:
        reason = f"{sku} is scarce (ATP {atp} < threshold {threshold}): only {granted} of {claim.quantity} available."
    return ScarcityVerdict(sku, atp, threshold, True, granted, claim.quantity, tuple(a.label for a in ahead), reason)
