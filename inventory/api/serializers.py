"""Shapes of the inventory API. Rules live in inventory.services / inventory.batch."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from omni.api.fields import QuantityField, bounded_many
from omni.limits import MAX_QUANTITY

from ..services import StockOperationKind
from ..models import Location, Product, StockLevel, StockMovement


class LocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = [
            "id", "code", "name", "kind", "address", "city", "postal_code", "country", "latitude", "longitude",
            "timezone", "is_active", "can_ship", "can_pickup", "daily_capacity", "handling_cost",
        ]
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    barcodes = serializers.SerializerMethodField(help_text="Every barcode of the SKU, the primary one first.")

    class Meta:
        model = Product
        fields = [
            "id", "sku", "name", "barcodes", "velocity_class", "unit_cost", "price", "lead_time_days",
            "season", "end_of_season", "launched_on", "is_active",
        ]
        read_only_fields = fields

    def get_barcodes(self, obj: Product) -> list[str]:
        codes = [obj.barcode] if obj.barcode else []
        return codes + [b.code for b in obj.barcodes.all() if b.code != obj.barcode]


class StockLevelSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    product_name = serializers.CharField(source="product.name")
    location = serializers.CharField(source="location.code")
    location_kind = serializers.CharField(source="location.kind")
    available = serializers.SerializerMethodField(help_text="on_hand − reserved (before safety stock).")

    class Meta:
        model = StockLevel
        fields = [
            "id", "sku", "product_name", "location", "location_kind", "on_hand", "reserved", "available",
            "damaged", "quarantine", "updated_at",
        ]
        read_only_fields = fields

    def get_available(self, obj: StockLevel) -> int:
        return obj.unreserved


class StockMovementItemSerializer(serializers.Serializer):
    external_id = serializers.CharField(
        max_length=128, help_text="Your id of this movement; unique per source. Sending it again changes nothing."
    )
    kind = serializers.ChoiceField(choices=StockOperationKind.choices)
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                help_text="Required except for transfer_in.")
    location = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                     help_text="Location code. Required except for transfer_in.")
    quantity = QuantityField(
        required=False, default=0, min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY,
        help_text="Units, positive; signed for adjustment; the counted figure (≥ 0) for count; optional for transfer_in "
        "(default: everything shipped).",
    )
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="",
                                   help_text="Why (required for adjustment).")
    resellable = serializers.BooleanField(required=False, default=True, help_text="return: false books the units as damaged.")
    to_location = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                        help_text="transfer_out: destination location code.")
    transfer = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=2**63 - 1,
                                        help_text="transfer_in: the transfer id.")
    reference = serializers.CharField(max_length=128, required=False, allow_blank=True, default="",
                                      help_text="Receipt/till/document number, kept on the ledger.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] != StockOperationKind.TRANSFER_IN:
            missing = {f: ["This field is required."] for f in ("sku", "location") if not attrs.get(f)}
            if missing:
                raise serializers.ValidationError(missing, code="required")
            if "quantity" not in self.initial_data:
                raise serializers.ValidationError({"quantity": ["This field is required."]}, code="required")
        return attrs


class StockMovementBatchSerializer(serializers.Serializer):
    source = serializers.CharField(  # type: ignore[assignment]  # a field named "source", not Field.source
        max_length=64, required=False,
        help_text="Reporting system (idempotency is per source). Partner tokens always post as their channel code.",
    )
    movements = bounded_many(StockMovementItemSerializer(), max_length=500, help_text="1–500 movements, applied one by one.")


class ItemErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True, help_text="The item field at fault, when there is one.")
    details = serializers.DictField()


class StockAfterSerializer(serializers.Serializer):
    sku = serializers.CharField()
    location = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    damaged = serializers.IntegerField()


class MovementOutcomeSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["applied", "replayed", "error"])
    movement_ids = serializers.ListField(child=serializers.IntegerField())
    stock = StockAfterSerializer(allow_null=True)
    transfer_id = serializers.IntegerField(allow_null=True)
    cycle_count_id = serializers.IntegerField(allow_null=True)
    error = ItemErrorSerializer(allow_null=True)


class BatchSummarySerializer(serializers.Serializer):
    applied = serializers.IntegerField()
    replayed = serializers.IntegerField()
    failed = serializers.IntegerField()


class StockMovementBatchResultSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]  # a field named "source", not Field.source
    summary = BatchSummarySerializer()
    results = MovementOutcomeSerializer(many=True)


class LedgerDiscrepancySerializer(serializers.Serializer):
    stock_level_id = serializers.IntegerField()
    sku = serializers.CharField()
    location = serializers.CharField()
    field = serializers.CharField(help_text="on_hand, damaged, quarantine or reserved; orphan_reservation for an open "
                                  "reservation whose owner (order allocation, hold) is gone or closed")
    recorded = serializers.IntegerField(help_text="The figure on the stock row (an orphan: the units it holds).")
    expected = serializers.IntegerField(help_text="What the ledger (or the open reservations) add up to (an orphan: 0).")
    reservation_id = serializers.IntegerField(allow_null=True, help_text="An orphan reservation's id.")
    reference = serializers.CharField(allow_blank=True, help_text="An orphan reservation's reference, e.g. order-allocation:42.")


class LedgerCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    stock_levels_checked = serializers.IntegerField()
    discrepancies = LedgerDiscrepancySerializer(many=True)


class StockMovementSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="stock_level.product.sku")
    location = serializers.CharField(source="stock_level.location.code")
    actor = serializers.SerializerMethodField(help_text="Username of the person or partner that made the change.")

    class Meta:
        model = StockMovement
        fields = [
            "id", "created_at", "sku", "location", "reason", "bucket", "quantity", "balance_after", "source", "external_id",
            "actor", "reference", "note",
        ]
        read_only_fields = fields

    def get_actor(self, obj: StockMovement) -> str | None:
        if obj.actor is None:
            return None
        only = self.context.get("actor_visible_to")  # a partner: its own changes only (see the view)
        if only is not None and obj.actor_id != only:
            return None
        return obj.actor.get_username()
