"""Sync API: the cursor-paged delta feed, the availability snapshot file, inbound stock snapshots."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from allocation.models import Channel
from omni.access.permissions import CanMoveStock, CanViewAvailability
from omni.errors import ValidationFailed
from inventory.selectors import location_get_by_code
from omni.access.roles import Capability, movement_source_for, principal_from_request, require
from omni.access.selectors import channel_for_principal

from .reconcile import SnapshotLineInput, stock_snapshot_apply
from .selectors import availability_changes, availability_snapshot_csv


def _channel_for(request) -> Channel:
    """A partner sees its own channel; a merchandiser names one with ?channel=<code>."""
    return channel_for_principal(principal=principal_from_request(request), code=request.query_params.get("channel"),
                                 capability=Capability.VIEW_AVAILABILITY)


class AvailabilityChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    sequence = serializers.IntegerField()
    changed_at = serializers.DateTimeField()
    sku = serializers.CharField(required=False)
    available = serializers.IntegerField(required=False)
    delta = serializers.IntegerField(required=False)
    event = serializers.CharField(required=False)
    payload = serializers.JSONField(required=False)


class AvailabilityChangesPageSerializer(serializers.Serializer):
    results = AvailabilityChangeSerializer(many=True)
    next_cursor = serializers.CharField()
    has_more = serializers.BooleanField()


class AvailabilityChangesView(APIView):
    permission_classes = [CanViewAvailability]

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, description="next_cursor of the previous page; empty for the start"),
            OpenApiParameter("limit", int, description="page size, at most 1000"),
            OpenApiParameter("channel", str, description="merchandisers only: the channel code"),
        ],
        responses=AvailabilityChangesPageSerializer,
    )
    def get(self, request):
        try:
            limit = int(request.query_params.get("limit", 500))
        except ValueError:
            raise ValidationFailed("limit must be an integer.", details={"limit": ["Not an integer."]}) from None
        page = availability_changes(channel=_channel_for(request), cursor=request.query_params.get("cursor"), limit=limit)
        data = {"results": page.results, "next_cursor": page.next_cursor, "has_more": page.has_more}
        return Response(AvailabilityChangesPageSerializer(data).data)


class AvailabilitySnapshotView(APIView):
    permission_classes = [CanViewAvailability]

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request):
        channel = _channel_for(request)
        response = StreamingHttpResponse(availability_snapshot_csv(channel=channel), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="availability-{channel.code}.csv"'
        return response


class SnapshotLineInSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    counted = serializers.IntegerField(min_value=0)


class StockSnapshotInSerializer(serializers.Serializer):
    location = serializers.CharField(max_length=32)
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    lines = SnapshotLineInSerializer(many=True, allow_empty=False, max_length=50_000)


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

    @extend_schema(request=StockSnapshotInSerializer, responses={201: StockSnapshotOutSerializer})
    def post(self, request):
        data = StockSnapshotInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        location = location_get_by_code(code=values["location"])
        principal = principal_from_request(request)
        require(principal, Capability.MOVE_STOCK, location_id=location.pk, what=f"at {location.code}")
        source = movement_source_for(principal, None)
        snapshot = stock_snapshot_apply(
            location=location, lines=[SnapshotLineInput(sku=l["sku"], counted=l["counted"]) for l in values["lines"]],
            source=source, actor=request.user, external_id=values.get("external_id", ""),
        )
        snapshot = type(snapshot).objects.select_related("location").prefetch_related("lines__product").get(pk=snapshot.pk)
        return Response(StockSnapshotOutSerializer(snapshot).data, status=status.HTTP_201_CREATED)
