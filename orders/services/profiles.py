"""Routing profiles: editing a profile creates a new version; the newest active one is used."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from allocation.models import Channel
from omni.errors import ValidationFailed
from orders.models import RoutingProfile
from orders.routing.criteria import build_criteria
from orders.selectors import routing_profiles_changed


def routing_profile_save(
    *, name: str, criteria: list[dict[str, Any]], channel: Channel | None = None, max_shipments: int = 2,
    allow_ship_to_store: bool = True, actor: Any = None,
) -> RoutingProfile:
    """Create version N+1 of profile ``name`` (version 1 if new) and retire the older versions."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A routing profile needs a name.", code="invalid_routing_profile", details={"name": ["Required."]})
    if isinstance(max_shipments, bool) or not isinstance(max_shipments, int) or max_shipments < 1:
        raise ValidationFailed("max_shipments must be a whole number ≥ 1.", code="invalid_routing_profile",
                               details={"max_shipments": ["Must be ≥ 1."]})
    build_criteria(criteria)  # validates names, weights, params
    with transaction.atomic():
        list(RoutingProfile.objects.select_for_update(of=("self",)).filter(name=name))
        latest = RoutingProfile.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0
        RoutingProfile.objects.filter(name=name, is_active=True).update(is_active=False)
        routing_profiles_changed()
        return RoutingProfile.objects.create(
            name=name, channel=channel, version=latest + 1, criteria=criteria, max_shipments=max_shipments,
            allow_ship_to_store=allow_ship_to_store, is_active=True,
            created_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        )
