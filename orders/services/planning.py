"""Route, then reserve the plan — with ONE retry policy for every path that does it (order
intake, checkout holds, re-routing a rejected line, backorder allocation).

Routing reads availability without locks; reserving is a conditional update, so between the two
another order may take the units routing counted on. Such a lost race means another order
progressed: the plan is rolled back (a savepoint) and routed again against the stock as it is
now, at most ``ROUTE_ATTEMPTS`` times. When routing itself finds too little stock, that answer
stands at once (no retry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from django.db import transaction

from allocation.models import Channel
from allocation.selectors import ChannelContext
from omni.errors import InsufficientStock, OmniError
from orders.routing.criteria import LineNeed, ProductFacts
from orders.routing.engine import ProfileSpec, RoutingDecision, route

ROUTE_ATTEMPTS = 10

T = TypeVar("T")


@dataclass(frozen=True)
class RouteRequest:
    """What to route: the engine's inputs (see ``orders.routing.engine.route``)."""

    channel: Channel
    lines: Sequence[LineNeed]
    products: Mapping[int, ProductFacts]
    destination: tuple[float, float] | None
    profile: ProfileSpec
    exclude_location_ids: frozenset[int] = field(default_factory=frozenset)
    only_location_ids: frozenset[int] | None = None
    require_can_ship: bool = True
    # The channel's planning context already loaded in this request (``planning_context``): the
    # first try routes with it; a retry (a race lost meanwhile) reads the stock and capacity anew.
    context: ChannelContext | None = None
    # The time routing measures the stock's age at on the first try, when intake read the
    # candidates ahead for it (``candidates_read_ahead``); a retry reads at its own time.
    now: datetime | None = None


@dataclass(frozen=True)
class Planned(Generic[T]):
    decision: RoutingDecision
    reserved: T  # what ``reserve`` returned
    attempts: int  # 1 unless reservations were lost to concurrent orders


def plan_and_reserve(
    *, request: RouteRequest, reserve: Callable[[RoutingDecision], T], attempts: int = ROUTE_ATTEMPTS,
    unroutable: Callable[[InsufficientStock], OmniError] | None = None,
) -> Planned[T]:
    """Route ``request`` and hand the decision to ``reserve`` (which reserves its plan, all or
    nothing, raising ``InsufficientStock`` when it loses a unit). A lost race re-routes, up to
    ``attempts`` times in all; the last loss is raised. ``unroutable`` turns routing's own
    ``InsufficientStock`` (not enough stock anywhere) into the error to raise instead."""
    for attempt in range(1, attempts + 1):
        try:
            decision = route(
                channel=request.channel, lines=list(request.lines), products=request.products,
                destination=request.destination, profile=request.profile,
                exclude_location_ids=request.exclude_location_ids, only_location_ids=request.only_location_ids,
                require_can_ship=request.require_can_ship, context=request.context if attempt == 1 else None,
                now=request.now if attempt == 1 else None,
            )
        except InsufficientStock as exc:
            if unroutable is None:
                raise
            raise unroutable(exc) from None
        try:
            with transaction.atomic():
                return Planned(decision=decision, reserved=reserve(decision), attempts=attempt)
        except InsufficientStock:
            if attempt == attempts:
                raise
    raise ValueError(f"attempts must be at least 1, got {attempts}.")
