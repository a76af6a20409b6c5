"""Thin views: parse, call one service or selector, answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from allocation.models import Channel
from inventory.selectors import location_get_by_code
from omni.api.errors import error_body, first_error
from omni.api.idempotency import IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_OPTIONAL, answer_response
from omni.api.pagination import DefaultPagination, page_of
from omni.access.permissions import CanPlaceOrders, CanViewOrders, by_method
from omni.errors import NotFound, ValidationFailed
from omni.access.roles import Capability, Principal, principal_from_request, require
from omni.access.selectors import channel_for_principal
from orders import services
from orders.models import Hold
from orders.selectors import order_get, orders_visible

from . import serializers as s




def _keyed(*, request: Request, channel: Channel, body: Any, handler: Callable[[], tuple[int, Any]],
           required: bool = False, handler_is_atomic: bool = False) -> Response:
    """Answer ``handler()`` once per (channel, Idempotency-Key); without a key (where it is optional) just run it.
    ``handler_is_atomic``: see ``idempotent_call``."""
    key = request.META.get("HTTP_IDEMPOTENCY_KEY")  # the header (``request.headers`` maps every header for it)
    if key is None and not required:
        status, answer = handler()
        return Response(answer, status=status)
    return answer_response(services.idempotent_call(
        channel=channel, key=key or "", body=body, handler=handler,
        error_body=lambda exc: error_body(exc.code, exc.message, exc.details), handler_is_atomic=handler_is_atomic,
    ))


def actor_label(principal: Principal) -> str:
    if principal.is_partner and principal.token is not None:
        return f"partner:{principal.token.name}"
    return getattr(principal.user, "username", "system") or "system"


_KEPT_CODES = ("invalid_quantity", "quantity_out_of_range", "control_character")


def _invalid(errors: Any) -> ValidationFailed:
    first = first_error(errors)
    return ValidationFailed(str(first), code=first.code if first.code in _KEPT_CODES else "invalid", details=errors)


def _parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    valid = s.validated_without_walk(serializer_class, data)
    if valid is not None:
        return valid
    ser = serializer_class(data=data)
    if not ser.is_valid():
        raise _invalid(ser.errors)
    return ser.validated_data


def _channel(principal: Principal, data: Any) -> Channel:
    """The partner token's channel; merchandisers name one with ``channel``."""
    asked = data.get("channel") if isinstance(data, dict) else None
    return channel_for_principal(principal=principal, code=asked if isinstance(asked, str) else None,
                                 capability=Capability.PLACE_ORDERS)


def _order_out(principal: Principal, order_id: int) -> dict[str, Any]:
    return s.OrderOutSerializer(order_get(principal=principal, order_id=order_id)).data


class OrderListCreateView(APIView):
    permission_classes = [by_method(read=CanViewOrders, write=CanPlaceOrders)]

    @extend_schema(operation_id="orders_list", responses=page_of(s.OrderSummarySerializer), parameters=[
        OpenApiParameter("status", str), OpenApiParameter("external_id", str),
        OpenApiParameter("page", {"type": "integer", "minimum": 1}), OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 1000})])
    def get(self, request: Request) -> Response:
        qs = orders_visible(principal=principal_from_request(request)).order_by("-id")
        for field in ("status", "external_id"):
            if request.query_params.get(field):
                qs = qs.filter(**{field: request.query_params[field]})
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.OrderSummarySerializer(page, many=True).data)

    @extend_schema(request=s.OrderCreateSerializer, responses={201: s.OrderOutSerializer}, parameters=[IDEMPOTENCY_KEY])
    def post(self, request: Request) -> Response:
        principal = principal_from_request(request)
        body = request.data if isinstance(request.data, dict) else {}
        channel = _channel(principal, body)

        def handler() -> tuple[int, Any]:
            data = _parse(s.OrderCreateSerializer, body)
            data.pop("channel", None)
            lines = [services.LineInput(sku=ln["sku"], quantity=ln["quantity"], unit_price=ln["unit_price"])
                     for ln in data.pop("lines")]
            order = services.order_create(channel=channel, data=services.OrderInput(lines=lines, **data),
                                          actor=actor_label(principal))
            # intake hands back the order with what it wrote (lines, allocations, timeline): the
            # answer is the same as a re-read, five queries less, built without DRF's field walk
            return 201, s.order_out_as_written(order)

        # The handler writes only through order_create, which is all or nothing in a savepoint of
        # its own (the lost sales of a refusal are written once it is final, with the key's answer).
        services.order_products_read_ahead(body.get("lines"))  # with the key's claim, not after it
        return _keyed(request=request, channel=channel, body=body, handler=handler, required=True, handler_is_atomic=True)


class OrderDetailView(APIView):
    permission_classes = [CanViewOrders]

    @extend_schema(responses=s.OrderOutSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_order_out(principal_from_request(request), pk))


class OrderCancelView(APIView):
    permission_classes = [CanPlaceOrders]

    @extend_schema(
        request=s.OrderCancelSerializer, responses=s.OrderOutSerializer, parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        description="Cancel the whole order, or the lines named. Cancelling what is already cancelled confirms it (200, "
        "nothing changes). With an Idempotency-Key the same request gets the same answer, however often it is sent.",
    )
    def post(self, request: Request, pk: int) -> Response:
        principal = principal_from_request(request)
        order = order_get(principal=principal, order_id=pk)
        body = request.data if isinstance(request.data, dict) else {}
        actor = actor_label(principal)

        def handler() -> tuple[int, Any]:
            data = _parse(s.OrderCancelSerializer, body)
            if data.get("lines"):
                services.order_lines_cancel(order=order, line_nos=data["lines"], actor=actor, reason=data["reason"])
            else:
                services.order_cancel(order=order, actor=actor, reason=data["reason"])
            return 200, _order_out(principal, pk)

        return _keyed(request=request, channel=order.channel, body={"cancel_order": pk, **body}, handler=handler)


class OrderLinePinView(APIView):
    """Manual pin: force an open line (or its backordered rest) to a chosen location."""

    permission_classes = [CanPlaceOrders]

    @extend_schema(
        operation_id="orders_lines_pin", request=s.OrderLinePinSerializer, responses=s.OrderOutSerializer,
        parameters=[IDEMPOTENCY_KEY],
        description="Move the line's open units (reserved elsewhere, or still missing) to the location named, through "
        "the same reservation and capacity rules as routing: refused (409, nothing changed) when the location "
        "is not one your channel sells from, cannot serve the delivery mode, lacks the stock or has no capacity left "
        "today. Recorded as a routing decision \"manual pin by <you>\" and an order event.",
    )
    def post(self, request: Request, pk: int, line_no: int) -> Response:
        principal = principal_from_request(request)
        order = order_get(principal=principal, order_id=pk)
        body = request.data if isinstance(request.data, dict) else {}
        actor = actor_label(principal)

        def handler() -> tuple[int, Any]:
            data = _parse(s.OrderLinePinSerializer, body)
            location = location_get_by_code(code=data["location"])
            services.order_line_pin(order=order, line_no=line_no, location=location, actor=actor, reason=data["reason"])
            return 200, _order_out(principal, pk)

        return _keyed(request=request, channel=order.channel, body={"pin_order": pk, "line": line_no, **body},
                      handler=handler, required=True)


class OrderReturnView(APIView):
    """A customer return at any location. Partners return their own channel's orders; store staff
    take returns of any channel's order at their own location."""

    @extend_schema(
        request=s.OrderReturnSerializer, responses=s.OrderOutSerializer, parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        description="Record a customer return. The same external_id again changes nothing (with other items: 409 "
        "duplicate_external_id). An Idempotency-Key makes a return sent without an external_id safe to resend too; "
        "the key must agree with the external_id (the same key with another external_id or other items: 409 "
        "idempotency_key_reused).",
    )
    def post(self, request: Request, pk: int) -> Response:
        principal = principal_from_request(request)
        body = request.data if isinstance(request.data, dict) else {}
        data = _parse(s.OrderReturnSerializer, request.data)
        location = location_get_by_code(code=data["location"])
        if principal.is_partner:
            require(principal, Capability.PLACE_ORDERS, what="return orders")
            order = order_get(principal=principal, order_id=pk)
        else:
            require(principal, Capability.MOVE_STOCK, location_id=location.pk, what=f"at {location.code}")
            order = order_get(principal=principal, order_id=pk, any_channel=True)
        items = [services.ReturnItem(line_no=i["line"], quantity=i["quantity"], resellable=i["resellable"],
                                     refund_amount=i["refund_amount"]) for i in data["items"]]

        def handler() -> tuple[int, Any]:
            services.order_return(order=order, items=items, location=location, actor=actor_label(principal),
                                  external_id=data["external_id"], reason=data["reason"])
            return 200, s.OrderOutSerializer(order_get(principal=principal, order_id=pk, any_channel=not principal.is_partner)).data

        # the order's channel owns the key, as for cancel
        return _keyed(request=request, channel=order.channel, body={"return_order": pk, **body}, handler=handler)


def _hold_get(principal: Principal, hold_id: Any) -> Hold:
    try:
        hold = Hold.objects.select_related("channel").prefetch_related("lines__product", "lines__location").get(
            pk=uuid.UUID(str(hold_id)))
    except (Hold.DoesNotExist, ValueError):
        hold = None
    if hold is None or (not principal.is_merchandiser and hold.channel_id != principal.channel_id):
        raise NotFound(f"Hold {hold_id} does not exist.", code="unknown_hold", details={"hold_id": ["No such hold for your channel."]})
    return hold


class HoldCreateView(APIView):
    permission_classes = [CanPlaceOrders]

    @extend_schema(
        request=s.HoldCreateSerializer, responses={201: s.HoldOutSerializer}, parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        description="Reserve a cart for ttl_seconds (first reserve wins). With an Idempotency-Key a resent request "
        "(after a lost answer) answers the hold made the first time and holds nothing more. A cart refused for want of "
        "stock (409) is recorded as a lost sale of the SKUs that lacked, once per order_ref (or per Idempotency-Key).",
    )
    def post(self, request: Request) -> Response:
        principal = principal_from_request(request)
        body = request.data if isinstance(request.data, dict) else {}
        channel = _channel(principal, body)
        key = request.headers.get("Idempotency-Key")

        def handler() -> tuple[int, Any]:
            data = _parse(s.HoldCreateSerializer, body)
            hold = services.hold_create(
                channel=channel, lines=[services.HoldLineInput(sku=ln["sku"], quantity=ln["quantity"]) for ln in data["lines"]],
                ttl_seconds=data["ttl_seconds"], pickup_location=data["pickup_location"], latitude=data["latitude"],
                longitude=data["longitude"], order_ref=data["order_ref"], idempotency_key=key or "",
            )
            return 201, s.HoldOutSerializer(_hold_get(principal, hold.pk)).data

        return _keyed(request=request, channel=channel, body={"hold": body}, handler=handler)


class HoldDetailView(APIView):
    permission_classes = [by_method(read=CanViewOrders, write=CanPlaceOrders)]

    @extend_schema(responses=s.HoldOutSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(s.HoldOutSerializer(_hold_get(principal_from_request(request), pk)).data)

    @extend_schema(responses={200: s.HoldOutSerializer}, parameters=[IDEMPOTENCY_KEY_OPTIONAL],
                   description="Release the hold's units; answers the hold as it now is (releasing a released hold "
                   "confirms it). With an Idempotency-Key a resend answers the first answer again.")
    def delete(self, request: Request, pk: str) -> Response:
        principal = principal_from_request(request)
        hold = _hold_get(principal, pk)

        def handler() -> tuple[int, Any]:
            services.hold_release(hold=hold)
            return 200, s.HoldOutSerializer(_hold_get(principal, hold.pk)).data

        return _keyed(request=request, channel=hold.channel, body={"release_hold": str(hold.pk)}, handler=handler)



