"""Sync API: the cursor-paged delta feed and the availability snapshot file."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from allocation.models import Channel
from omni.access.permissions import CanViewAvailability
from omni.access.roles import Capability, principal_from_request
from omni.access.selectors import channel_for_principal
from omni.errors import ValidationFailed

from .feed import FEED_MAX, availability_changes, availability_snapshot_csv


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
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, description="page size, 1 to 1000 (default 500)"),
            OpenApiParameter("channel", str, description="merchandisers only: the channel code"),
        ],
        responses=AvailabilityChangesPageSerializer,
    )
    def get(self, request):
        try:
            limit = int(request.query_params.get("limit", 500))
        except ValueError:
            raise ValidationFailed("limit must be an integer.", details={"limit": ["Not an integer."]}) from None
        if not 1 <= limit <= FEED_MAX:
            raise ValidationFailed(f"limit must be between 1 and {FEED_MAX}, got {limit}.", code="invalid_limit",
                                   details={"limit": [f"Between 1 and {FEED_MAX}."]})
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
