"""Who gets a scarce SKU: the priority rules that order routing applies when a SKU's pool ATP is below
the channel's ``scarcity_threshold`` (see ``allocation.selectors.scarcity_inputs``).

Each rule turns a claim on stock into a sort key part (lower wins); the rule hierarchy (which
criterion outweighs the others) is an ordered tuple of rule names, by default ``DEFAULT_RULES`` and
overridable with the setting ``OMNI_PRIORITY_RULES``. A merchandiser's manual override
(``Claim.pinned``) always comes first; the claim placed first breaks remaining ties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from omni.errors import ValidationFailed


@dataclass(frozen=True)
class Claim:
    """One demand on scarce stock (an order line, typically). ``customer_tier``: 1 = most valuable."""

    reference: str
    margin_rank: int  # the channel's: 1 = highest margin
    strategic_priority: int  # the channel's: 1 = most strategic
    customer_tier: int = 3
    express: bool = False  # guaranteed / express delivery promised
    placed_at: datetime | None = None
    pinned: bool = False  # manual override: serve this one first
    quantity: int = 1


RULES: dict[str, Callable[[Claim], int]] = {
    "delivery_commitment": lambda c: 0 if c.express else 1,
    "customer_value": lambda c: c.customer_tier,
    "channel_margin": lambda c: c.margin_rank,
    "strategic_priority": lambda c: c.strategic_priority,
}
DEFAULT_RULES: tuple[str, ...] = ("delivery_commitment", "customer_value", "channel_margin", "strategic_priority")


def priority_rules() -> tuple[str, ...]:
    rules = tuple(getattr(settings, "OMNI_PRIORITY_RULES", DEFAULT_RULES))
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValidationFailed(f"Unknown priority rule(s): {', '.join(unknown)}.", code="invalid_priority_rules",
                               details={"OMNI_PRIORITY_RULES": [f"Known: {', '.join(RULES)}."]})
    return rules


def claim_sort_key(claim: Claim, rules: Sequence[str] | None = None) -> tuple:
    rules = priority_rules() if rules is None else rules
    placed = claim.placed_at.timestamp() if claim.placed_at else float("inf")
    return (0 if claim.pinned else 1, *(RULES[r](claim) for r in rules), placed, claim.reference)


def claims_ranked(*, claims: Iterable[Claim], rules: Sequence[str] | None = None) -> list[Claim]:
    """The claims in the order they should be served."""
    rules = priority_rules() if rules is None else tuple(rules)
    for r in rules:
        if r not in RULES:
            raise ValidationFailed(f"Unknown priority rule {r!r}.", code="invalid_priority_rules", details={"rules": [r]})
    return sorted(claims, key=lambda c: claim_sort_key(c, rules))


def claims_allocate(*, claims: Iterable[Claim], available: int, rules: Sequence[str] | None = None) -> dict[str, int]:
    """Share ``available`` units among the claims in priority order: each is served in full before
    the next; the last one served may get part of its quantity. ``{reference: units granted}``."""
    if isinstance(available, bool) or not isinstance(available, int) or available < 0:
        raise ValidationFailed("available must be a whole number ≥ 0.", code="invalid_quantity", details={"available": ["≥ 0."]})
    granted: dict[str, int] = {}
    left = available
    for claim in claims_ranked(claims=claims, rules=rules):
        units = min(claim.quantity, left)
        granted[claim.reference] = units
        left -= units
    return granted
