"""Reads of fulfillment work: a location's queue, one work for someone allowed to act on it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, QuerySet

from fulfillment.models import OPEN_STATUSES, Work, WorkLine
from inventory.models import Location
from omni.access.roles import Capability, Principal, permitted_location_ids, principal_for
from omni.errors import NotFound


def _with_lines(qs: QuerySet[Work]) -> QuerySet[Work]:
    return qs.select_related("order__channel", "location", "pickup_location").prefetch_related(
        Prefetch("lines", queryset=WorkLine.objects.select_related("product", "order_line").order_by("pk")))


def queue(*, location: Location | int, statuses: Iterable[str] | None = None) -> QuerySet[Work]:
    """The location's work, soonest deadline first: open work unless ``statuses`` says which."""
    location_id = location.pk if isinstance(location, Location) else location
    wanted = sorted(OPEN_STATUSES if statuses is None else set(statuses))
    return _with_lines(Work.objects.filter(location_id=location_id, status__in=wanted)).order_by("deadline", "pk")


def _principal(who: Any) -> Principal:
    return who if isinstance(who, Principal) else principal_for(who)


def works_visible(*, who: Principal | Any) -> QuerySet[Work]:
    """Work a principal (or a user) may act on: at its locations (all for merchandisers; a partner
    token only its channel's orders, and only at its locations when it has any)."""
    principal = _principal(who)
    where = permitted_location_ids(principal, Capability.FULFIL)
    qs = Work.objects.all()
    if principal.is_partner:
        # A partner system fulfils only at the locations its token is limited to.
        qs = qs.filter(order__channel_id=principal.channel_id)
        where = where or frozenset()
    if where is not None:
        qs = qs.filter(location_id__in=where)
    return qs


def work_for(*, who: Principal | Any, pk: int) -> Work:
    """One work, with its lines, if ``who`` may act on it; otherwise ``not_found`` (another
    location's work is not revealed)."""
    try:
        return _with_lines(works_visible(who=who)).get(pk=pk)
    except (Work.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Work {pk} does not exist or is not at your locations.", code="unknown_work",
                       details={"work": ["Not found at your locations."]}) from None
