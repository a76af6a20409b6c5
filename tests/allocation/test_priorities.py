"""Priority rules for scarce stock: hierarchy, manual override, ties, partial fills."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from allocation.priorities import Claim, claims_allocate, claims_ranked
from omni.errors import ValidationFailed

T0 = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 20, 11, tzinfo=timezone.utc)


def claim(ref, **kw):
    base = {"margin_rank": 2, "strategic_priority": 2, "customer_tier": 3, "placed_at": T0}
    return Claim(reference=ref, **{**base, **kw})


def test_default_hierarchy_express_then_customer_then_margin_then_strategy_then_time():
    claims = [
        claim("market-late", margin_rank=3, placed_at=T1),
        claim("market-early", margin_rank=3),
        claim("web", margin_rank=1),
        claim("loyal", customer_tier=1, margin_rank=3),
        claim("express", express=True, customer_tier=3, margin_rank=3),
    ]
    assert [c.reference for c in claims_ranked(claims=claims)] == ["express", "loyal", "web", "market-early", "market-late"]


def test_manual_pin_beats_every_rule_and_rules_can_be_reordered(settings):
    claims = [claim("express", express=True), claim("pinned", pinned=True, margin_rank=9), claim("web", margin_rank=1)]
    assert [c.reference for c in claims_ranked(claims=claims)] == ["pinned", "express", "web"]
    settings.OMNI_PRIORITY_RULES = ("channel_margin", "delivery_commitment")
    assert [c.reference for c in claims_ranked(claims=claims)] == ["pinned", "web", "express"]


def test_allocation_serves_in_order_with_a_partial_last_fill():
    claims = [claim("a", express=True, quantity=2), claim("b", quantity=3), claim("c", placed_at=T1, quantity=1)]
    assert claims_allocate(claims=claims, available=4) == {"a": 2, "b": 2, "c": 0}
    assert claims_allocate(claims=claims, available=0) == {"a": 0, "b": 0, "c": 0}


def test_bad_input_is_refused():
    with pytest.raises(ValidationFailed):
        claims_allocate(claims=[claim("a")], available=-1)
    with pytest.raises(ValidationFailed):
        claims_ranked(claims=[claim("a")], rules=["astrology"])
