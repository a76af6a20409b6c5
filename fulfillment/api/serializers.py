"""Shapes of the fulfillment API (distinct names: they share the OpenAPI schema with orders')."""

from __future__ import annotations

from rest_framework import serializers

from fulfillment.models import RejectReason, Work, WorkEvent, WorkLine, WorkStatus


class WorkLineOutSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    order_line = serializers.IntegerField(source="order_line.line_no")
    open = serializers.IntegerField(source="open_quantity")

    class Meta:
        model = WorkLine
        fields = ["id", "order_line", "sku", "quantity", "picked", "rejected", "handed_over", "cancelled", "open", "transfer_id"]


class WorkEventOutSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = WorkEvent
        fields = ["kind", "from_status", "to_status", "actor", "at", "data"]


class WorkOutSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    order_external_id = serializers.CharField(source="order.external_id")
    location = serializers.CharField(source="location.code")
    pickup_location = serializers.CharField(source="pickup_location.code", allow_null=True, default=None)
    ready_for_pickup = serializers.SerializerMethodField()
    lines = WorkLineOutSerializer(many=True)
    events = WorkEventOutSerializer(many=True)

    class Meta:
        model = Work
        fields = ["id", "order", "order_external_id", "kind", "status", "location", "pickup_location", "deadline", "on_time",
                  "ready_for_pickup", "pickup_code", "tracking_number", "carrier", "box_type", "created_at", "picked_at",
                  "packed_at", "ready_at", "shipped_at", "closed_at", "lines", "events"]

    def get_ready_for_pickup(self, obj: Work) -> bool:
        return obj.status == WorkStatus.READY_FOR_PICKUP


class WorkSummarySerializer(serializers.ModelSerializer):
    order_external_id = serializers.CharField(source="order.external_id")
    location = serializers.CharField(source="location.code")

    class Meta:
        model = Work
        fields = ["id", "order", "order_external_id", "kind", "status", "location", "deadline", "on_time", "tracking_number"]


class WorkPickSerializer(serializers.Serializer):
    line = serializers.IntegerField(required=False, help_text="Work line id; or give ean.")
    ean = serializers.CharField(required=False, max_length=32, help_text="A scanned barcode.")
    quantity = serializers.IntegerField(min_value=1, default=1)

    def validate(self, attrs):
        if ("line" in attrs) == ("ean" in attrs):
            raise serializers.ValidationError("Give either line or ean.")
        return attrs


class WorkPackSerializer(serializers.Serializer):
    box_type = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class WorkShipSerializer(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=64)
    carrier = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class WorkLineQuantitySerializer(serializers.Serializer):
    line = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=0)


class WorkHandOverSerializer(serializers.Serializer):
    lines = WorkLineQuantitySerializer(many=True, required=False, help_text="Omit to hand over every ready unit.")
    collector_name = serializers.CharField(max_length=150)
    id_kind = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    id_last_digits = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
    relation = serializers.CharField(max_length=32, required=False, default="customer")


class WorkRejectLineSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1)
    reason = serializers.ChoiceField(choices=RejectReason.choices)


class WorkRejectSerializer(serializers.Serializer):
    lines = WorkRejectLineSerializer(many=True, allow_empty=False)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class WorkActionSerializer(serializers.Serializer):
    """start / ready take no body."""


class ChoiceOptionOutSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="pickup:<store code>, delivery or cancel: what to send back.")
    kind = serializers.ChoiceField(choices=["pickup", "delivery", "cancel"])
    location = serializers.CharField(required=False, help_text="Pickup store, or the location that would ship.")
    name = serializers.CharField(required=False)
    distance_km = serializers.FloatField(required=False, allow_null=True, help_text="From the store that rejected the units.")
    available = serializers.DictField(child=serializers.IntegerField(), required=False, help_text="SKU → units there when asked.")


class ChoiceLineOutSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Order line number.")
    sku = serializers.CharField()
    quantity = serializers.IntegerField()


class CustomerChoiceOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    fulfillment = serializers.IntegerField(source="work_id")
    location = serializers.CharField(source="location.code", help_text="The store that could not supply the units.")
    lines = ChoiceLineOutSerializer(many=True)
    options = ChoiceOptionOutSerializer(many=True)
    expires_at = serializers.DateTimeField()
    chosen = serializers.CharField()
    answered_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.DictField()


class CustomerChoiceInSerializer(serializers.Serializer):
    option = serializers.CharField(max_length=64, help_text="The id of one of the options offered.")


class WorkReceiveSerializer(serializers.Serializer):
    lines = WorkLineQuantitySerializer(many=True, required=False,
                                       help_text="Units that arrived per work line; omit when everything sent arrived. "
                                       "Fewer than sent: the rest is lost in transit and the customer is asked about it.")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                   help_text="Why units are missing (a short receipt).")
