"""``POST /api/v1/stock-snapshots``: a location system posts its full count."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.api.idempotency import stock_idempotent
from inventory.selectors import location_get_by_code
from omni.api.errors import first_error
from omni.api.idempotency import IDEMPOTENCY_KEY_OPTIONAL
from omni.api.fields import QuantityField, bounded_many
from omni.access.permissions import CanMoveStock
from omni.access.roles import Capability, movement_source_for, principal_from_request, require
from omni.errors import ValidationFailed

from .models import StockSnapshot
from .services import SnapshotLineInput, stock_snapshot_apply


class SnapshotLineInSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    counted = QuantityField(min_value=0)


class StockSnapshotInSerializer(serializers.Serializer):
    location = serializers.CharField(max_length=32)
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    lines = bounded_many(SnapshotLineInSerializer(), max_length=50_000)


class SnapshotLineOutSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    counted = serializers.IntegerField()
    system_quantity = serializers.IntegerField()
    variance = serializers.IntegerField()
    status = serializers.CharField()
    error = serializers.CharField()


class StockSnapshotOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    location = serializers.CharField(source="location.code")
    received_at = serializers.DateTimeField()
    lines = SnapshotLineOutSerializer(many=True, source="lines.all")


class StockSnapshotView(APIView):
    permission_classes = [CanMoveStock]

    @extend_schema(
        request=StockSnapshotInSerializer, responses={201: StockSnapshotOutSerializer}, parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        description="Record a location's full count and reconcile every line against the ledger. The same "
        "external_id (per source) answers the first snapshot again; an Idempotency-Key does so for a snapshot "
        "sent without one, and answers the first time's figures exactly (Idempotent-Replayed: true).",
    )
    def post(self, request):
        return stock_idempotent(request=request, operation="stock_snapshot", body=request.data,
                                handler=lambda: self._apply(request))

    @staticmethod
    def _apply(request) -> tuple[int, Any]:
        data = StockSnapshotInSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationFailed(str(first_error(data.errors)), code="invalid", details=dict(data.errors))
        values = data.validated_data
        location = location_get_by_code(code=values["location"])
        principal = principal_from_request(request)
        require(principal, Capability.MOVE_STOCK, location_id=location.pk, what=f"at {location.code}")
        source = movement_source_for(principal, None)
        snapshot = stock_snapshot_apply(
            location=location, lines=[SnapshotLineInput(sku=l["sku"], counted=l["counted"]) for l in values["lines"]],
            source=source, actor=request.user, external_id=values.get("external_id", ""),
        )
        snapshot = StockSnapshot.objects.select_related("location").prefetch_related("lines__product").get(pk=snapshot.pk)
        return status.HTTP_201_CREATED, StockSnapshotOutSerializer(snapshot).data
