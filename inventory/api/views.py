"""Thin views: shape in serializers, rules in inventory.services / inventory.batch, who-may in omni.access.roles."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import filters, generics, serializers, status, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from omni.access.permissions import CanMoveStock, CanViewStock, IsMerchandiser
from omni.api.errors import first_error
from omni.api.idempotency import IDEMPOTENCY_KEY_OPTIONAL
from omni.api.schema import error_responses
from omni.errors import ValidationFailed
from omni.access.roles import (
    Capability,
    Role,
    movement_source_for,
    permitted_location_ids,
    principal_from_request,
    readable_location_ids,
)

from .. import services
from ..batch import ItemInvalid, MovementInput, stock_movements_apply
from ..models import Location, Product, ProductBarcode, StockLevel, StockMovement
from ..selectors import stock_levels
from .idempotency import stock_idempotent
from .filters import LocationFilter, ProductFilter, StockLevelFilter, StockMovementFilter
from .serializers import (
    LedgerCheckSerializer,
    LocationSerializer,
    ProductSerializer,
    StockLevelSerializer,
    StockMovementBatchResultSerializer,
    StockMovementBatchSerializer,
    StockMovementItemSerializer,
    StockMovementSerializer,
)

MAX_BATCH = 500


class HasRole(BasePermission):
    """Any known principal (merchandiser, store staff, active partner token)."""

    message = "You have no role in Omni."

    def has_permission(self, request, view) -> bool:
        return principal_from_request(request).role is not Role.NONE


@extend_schema_view(
    list=extend_schema(summary="List locations", responses={200: LocationSerializer(many=True), **error_responses(401, 403)}),
    retrieve=extend_schema(summary="One location by code", responses={200: LocationSerializer, **error_responses(401, 403, 404)}),
)
class LocationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = LocationSerializer
    permission_classes = [HasRole]
    queryset = Location.objects.order_by("code")
    filterset_class = LocationFilter
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    search_fields = ["code", "name", "city"]
    lookup_field = "code"


@extend_schema_view(
    list=extend_schema(summary="List products (SKUs)", responses={200: ProductSerializer(many=True), **error_responses(401, 403)}),
    retrieve=extend_schema(summary="One product by SKU", responses={200: ProductSerializer, **error_responses(401, 403, 404)}),
)
class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProductSerializer
    permission_classes = [HasRole]
    queryset = Product.objects.order_by("sku").prefetch_related(Prefetch("barcodes", queryset=ProductBarcode.objects.order_by("id")))
    filterset_class = ProductFilter
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    search_fields = ["sku", "name", "=barcode"]
    lookup_field = "sku"
    lookup_value_regex = "[^/]+"


@extend_schema_view(
    list=extend_schema(
        summary="Stock levels per SKU and location",
        description="Paginated. Partner tokens see the locations they are limited to, or else the locations their channel sells from.",
        responses={200: StockLevelSerializer(many=True), **error_responses(401, 403)},
    ),
    retrieve=extend_schema(summary="One stock row", responses={200: StockLevelSerializer, **error_responses(401, 403, 404)}),
)
class StockLevelViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StockLevelSerializer
    permission_classes = [CanViewStock]
    filterset_class = StockLevelFilter

    def get_queryset(self):
        allowed = readable_location_ids(principal_from_request(self.request))
        return stock_levels(location_ids=None if allowed is None else list(allowed))


class StockMovementBatchView(generics.ListAPIView):
    """GET: the ledger (read); POST: a batch of movements (write)."""

    serializer_class = StockMovementSerializer
    filterset_class = StockMovementFilter

    def get_permissions(self):
        return [CanViewStock()] if self.request.method in ("GET", "HEAD", "OPTIONS") else [CanMoveStock()]

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        principal = principal_from_request(self.request)
        if principal.is_partner:
            # A partner reads who made its own changes, not the names of store staff or of other partners.
            context["actor_visible_to"] = principal.user.pk
        return context

    def get_queryset(self):
        qs = StockMovement.objects.select_related("stock_level__product", "stock_level__location", "actor").order_by("-id")
        allowed = readable_location_ids(principal_from_request(self.request))
        if allowed is not None:
            qs = qs.filter(stock_level__location_id__in=allowed)
        return qs

    @extend_schema(
        summary="The stock ledger",
        description="Every movement, newest first, paginated. Filter by sku, location, reason, source, external_id and "
        "time. Partner tokens see the movements of the locations whose stock they may read.",
        responses={200: StockMovementSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Post a batch of stock movements (POS, WMS, ERP)",
        description=(
            "Each item is applied on its own and reported on its own: `applied`, `replayed` (the same external_id "
            "was applied before: nothing changed) or `error` (with code, message and field: nothing changed for that "
            "item). The batch is NOT all-or-nothing. 200 when every item succeeded, 207 when at least one failed. "
            "A partner token posts as its channel code and only for its locations; store staff only for their stores. "
            "Each item's external_id already makes a resent item change nothing; an Idempotency-Key on the batch "
            "also answers a resent batch exactly as the first time (Idempotent-Replayed: true) and refuses the key "
            "for a different batch (409 idempotency_key_reused). With a key the batch is answered in one transaction."
        ),
        request=StockMovementBatchSerializer,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={
            200: StockMovementBatchResultSerializer,
            207: OpenApiResponse(StockMovementBatchResultSerializer, description="At least one item failed."),
            **error_responses(400, 401, 403),
        },
        examples=[
            OpenApiExample(
                "Till sale and a goods receipt",
                request_only=True,
                value={"movements": [
                    {"external_id": "POS-1-000123", "kind": "sale", "sku": "TS-00001-XL", "location": "ST-IST-KDK", "quantity": 1},
                    {"external_id": "GRN-88", "kind": "receipt", "sku": "TS-00001-XL", "location": "ST-IST-KDK", "quantity": 12},
                ]},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        return stock_idempotent(request=request, operation="stock_movements", body=request.data,
                                handler=lambda: self._apply(request))

    def _apply(self, request: Request) -> tuple[int, Any]:
        principal = principal_from_request(request)
        data = request.data
        if isinstance(data, list):
            data = {"movements": data}
        if not isinstance(data, dict) or not isinstance(data.get("movements"), list):
            raise ValidationFailed("Send {\"movements\": [...]}.", code="invalid", details={"movements": ["Expected a list."]})
        raw = data["movements"]
        if not 1 <= len(raw) <= MAX_BATCH:
            raise ValidationFailed(
                f"A batch holds 1 to {MAX_BATCH} movements, got {len(raw)}.", code="invalid_batch_size",
                details={"movements": [f"1 to {MAX_BATCH} items."]},
            )
        source = movement_source_for(principal, str(data.get("source") or ""))
        items = [self._parse(i) for i in raw]
        outcomes = stock_movements_apply(items=items, source=source, actor=request.user,
                                         location_ids=permitted_location_ids(principal, Capability.MOVE_STOCK))
        summary = {
            "applied": sum(o.status == "applied" for o in outcomes),
            "replayed": sum(o.status == "replayed" for o in outcomes),
            "failed": sum(o.status == "error" for o in outcomes),
        }
        body = StockMovementBatchResultSerializer({"source": source, "summary": summary, "results": outcomes}).data
        return (status.HTTP_207_MULTI_STATUS if summary["failed"] else status.HTTP_200_OK), body

    @staticmethod
    def _parse(raw) -> MovementInput | ValidationFailed:
        if not isinstance(raw, dict):
            return ValidationFailed("Each movement must be a JSON object.", code="invalid", details={"movement": ["Expected an object."]})
        ser = StockMovementItemSerializer(data=raw)
        try:
            ser.is_valid(raise_exception=True)
        except serializers.ValidationError as exc:
            first = first_error(exc.detail)
            details = exc.detail if isinstance(exc.detail, dict) else {"movement": exc.detail}
            return ItemInvalid(str(first), code=first.code, details=details, external_id=str(raw.get("external_id") or ""))
        return MovementInput(**ser.validated_data)


class LedgerCheckView(APIView):
    permission_classes = [IsMerchandiser]

    @extend_schema(
        summary="Reconcile the stock ledger (merchandisers only)",
        description="Every stock row whose buckets disagree with the sum of its movements, or whose reserved figure "
        "disagrees with its open reservations, and every open reservation whose owner (an order allocation, a "
        "checkout hold) is gone or closed. `ok` is true when there is none.",
        responses={200: LedgerCheckSerializer, **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        rows = services.ledger_check()
        body = {
            "ok": not rows,
            "stock_levels_checked": StockLevel.objects.count(),
            "discrepancies": [r.__dict__ for r in rows],
        }
        return Response(LedgerCheckSerializer(body).data)
