"""``GET /api/v1/availability`` and ``GET /api/v1/availability/pickup``: thin views over the ATP selectors.

A partner token reads its own channel (``channel=`` may only name it); a merchandiser or store user
names the channel with ``channel=``. Bad input answers 4xx with a stable code, never 500.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from allocation.availability.atp import atp_components_for_context
from allocation.availability.context import channel_contexts
from allocation.availability.locations import location_availability
from allocation.availability.pickup import pickup_options
from allocation.channels.models import Channel
from inventory.models import Location
from inventory.selectors import product_ids_by_sku
from omni.access.permissions import CanViewAvailability
from omni.access.roles import Capability, principal_from_request
from omni.access.selectors import channel_for_principal
from omni.errors import NotFound, ValidationFailed

MAX_SKUS = 200
MAX_RADIUS_KM = 500.0
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no", ""}


SKU_LIST = OpenApiParameter(
    "sku", {"type": "array", "minItems": 1, "maxItems": MAX_SKUS,
            "items": {"type": "string", "minLength": 1, "pattern": r"^[^,\s]+$"}},
    required=True, explode=False, description="One SKU or a comma-separated list (?sku=A,B; repeating sku= works too).",
)

def _channel_for(request: Request) -> Channel:
    return channel_for_principal(principal=principal_from_request(request), code=request.query_params.get("channel"),
                                 capability=Capability.VIEW_AVAILABILITY)


class _Sku(NamedTuple):
    pk: int
    sku: str


def _products(request: Request) -> list[_Sku]:
    # ?sku=A,B (as every list parameter of the API) or ?sku=A&sku=B
    skus = [s.strip() for value in request.query_params.getlist("sku") for s in value.split(",") if s.strip()]
    skus = list(dict.fromkeys(skus))
    if not skus:
        raise ValidationFailed("Name at least one SKU: ?sku=A,B.", code="sku_required", details={"sku": ["Required."]})
    if len(skus) > MAX_SKUS:
        raise ValidationFailed(f"At most {MAX_SKUS} SKUs per request, got {len(skus)}.", code="too_many_skus",
                               details={"sku": [f"At most {MAX_SKUS}."]})
    found = product_ids_by_sku(skus=skus)
    unknown = [s for s in skus if s not in found]
    if unknown:
        raise NotFound(f"Unknown SKU(s): {', '.join(unknown)}.", code="unknown_sku", details={"sku": unknown})
    return [_Sku(found[s], s) for s in skus]


def _flag(request: Request, name: str) -> bool:
    value = (request.query_params.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationFailed(f"{name} must be 1 or 0, got {value!r}.", code="invalid_parameter", details={name: ["1 or 0."]})


def _number(request: Request, name: str, low: float, high: float, *, code: str, default: float | None = None) -> float:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        if default is not None:
            return default
        raise ValidationFailed(f"Missing parameter {name}.", code="missing_parameter", details={name: ["Required."]})
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise ValidationFailed(f"{name} must be a number from {low:g} to {high:g}, got {raw!r}.", code=code,
                               details={name: [f"A number from {low:g} to {high:g}."]})
    return value


_ITEM_FIELDS: dict[str, serializers.Field] = {
    "sku": serializers.CharField(), "atp": serializers.IntegerField(),
    "components": serializers.DictField(required=False), "locations": serializers.ListField(required=False),
}


class AvailabilityView(APIView):
    permission_classes = [IsAuthenticated, CanViewAvailability]

    @extend_schema(
        operation_id="availability_list",
        summary="ATP per SKU for a channel",
        parameters=[
            SKU_LIST,
            OpenApiParameter("channel", OpenApiTypes.STR, description="Channel code (merchandisers; a token may name only its own)."),
            OpenApiParameter("breakdown", OpenApiTypes.BOOL, description="1: the ATP components and per-location availability."),
        ],
        responses={200: inline_serializer("Availability", {
            "channel": serializers.CharField(), "as_of": serializers.DateTimeField(), "items": inline_serializer("AvailabilityItem", _ITEM_FIELDS, many=True)})},
    )
    def get(self, request: Request) -> Response:
        channel = _channel_for(request)
        products = _products(request)
        breakdown = _flag(request, "breakdown")
        now = timezone.now()
        ctx = channel_contexts(channels=[channel], now=now)[channel.pk]  # loaded once, also for the breakdown
        comps = atp_components_for_context(ctx=ctx, product_ids=[p.pk for p in products], now=now)
        per_location: dict[int, list] = {}
        codes: dict[int, str] = {}
        if breakdown:
            pct = {**ctx.visible_pct, **ctx.supplier_pct}
            codes = dict(Location.objects.filter(pk__in=list(pct)).values_list("pk", "code"))
            for row in location_availability(product_ids=[p.pk for p in products], location_ids=pct):
                per_location.setdefault(row.product_id, []).append({
                    "location": codes[row.location_id], "on_hand": row.on_hand, "reserved": row.reserved,
                    "safety_stock": row.safety_stock, "available": row.available,
                    "counted": row.available * pct[row.location_id] // 100,
                    "virtual": row.location_id in ctx.supplier_pct,
                })
        items = []
        for product in products:
            comp = comps.get(product.pk)
            item = {"sku": product.sku, "atp": comp.atp if comp else 0}
            if breakdown and comp:
                item["components"] = {
                    "available": comp.available, "accuracy_haircut": comp.haircut,
                    "location_safety_stock": comp.location_safety_stock, "buffer": comp.buffer,
                    "buffer_source": comp.buffer_source, "extra_buffer": comp.extra_buffer, "quota": comp.quota,
                    "virtual": comp.virtual, "lag_buffer": comp.lag_buffer,
                }
                item["locations"] = sorted(per_location.get(product.pk, []), key=lambda r: r["location"])
            items.append(item)
        return Response({"channel": channel.code, "as_of": now.isoformat(), "items": items})


class PickupView(APIView):
    permission_classes = [IsAuthenticated, CanViewAvailability]

    @extend_schema(
        operation_id="availability_pickup",
        summary="Stores near a customer that can serve a pickup (BOPIS) order now",
        parameters=[
            SKU_LIST,
            OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True),
            OpenApiParameter("lon", OpenApiTypes.DOUBLE, required=True),
            OpenApiParameter("radius_km", OpenApiTypes.DOUBLE, description=f"Default 25, at most {MAX_RADIUS_KM:g}."),
            OpenApiParameter("quantity", OpenApiTypes.INT, description="Units of each SKU needed (default 1)."),
            OpenApiParameter("channel", OpenApiTypes.STR),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        channel = _channel_for(request)
        products = _products(request)
        lat = _number(request, "lat", -90, 90, code="invalid_coordinates")
        lon = _number(request, "lon", -180, 180, code="invalid_coordinates")
        radius = _number(request, "radius_km", 0.001, MAX_RADIUS_KM, code="invalid_radius", default=25.0)
        quantity = _number(request, "quantity", 1, 10_000, code="invalid_quantity", default=1)
        if quantity != int(quantity):
            raise ValidationFailed("quantity must be a whole number.", code="invalid_quantity", details={"quantity": ["Integer."]})
        options = pickup_options(channel=channel, product_ids=[p.pk for p in products], lat=lat, lon=lon,
                                 radius_km=radius, quantity=int(quantity))
        skus = {p.pk: p.sku for p in products}
        return Response({
            "channel": channel.code,
            "stores": [
                {
                    "location": o.location.code, "name": o.location.name, "city": o.location.city,
                    "latitude": o.location.latitude, "longitude": o.location.longitude, "distance_km": o.distance_km,
                    "items": [{"sku": skus[pid], "available": units} for pid, units in o.available.items()],
                }
                for o in options
            ],
        })
