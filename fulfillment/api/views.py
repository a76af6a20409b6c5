"""Thin views for systems that fulfil (a WMS, a 3PL, a POS) and for store staff: list my work, one
work, and move it — every move with an ``Idempotency-Key`` (orders' idempotency service, in the
work's channel, keys prefixed ``fulfillment:``). A token acts only at its own locations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfillment import services
from fulfillment.models import CustomerChoice, Work
from fulfillment.services.choices import choice_apply
from fulfillment.selectors import work_for, works_visible
from omni.access.permissions import CanFulfil, CanPlaceOrders, CanViewOrders, CanViewOrdersOrWork, CanViewWork
from omni.access.roles import Capability, Principal, principal_from_request
from omni.api.errors import error_body, first_error
from omni.api.idempotency import IDEMPOTENCY_KEY
from omni.api.pagination import DefaultPagination, page_of
from omni.errors import NotFound, ValidationFailed
from omni.idempotency import namespaced_key
from orders.selectors import order_get
from orders.services import idempotent_call

from . import serializers as s

IDEMPOTENCY = IDEMPOTENCY_KEY  # required here: every move and answer names its request


def _actor(principal: Principal) -> Any:
    if principal.is_partner and principal.token is not None:
        return f"partner:{principal.token.name}"
    return principal.user


def _parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    ser = serializer_class(data=data)
    if not ser.is_valid():
        raise ValidationFailed(str(first_error(ser.errors)), code="invalid", details=ser.errors)
    return ser.validated_data


def _work_out(principal: Principal, pk: int) -> dict[str, Any]:
    return s.WorkOutSerializer(work_for(who=principal, pk=pk, capability=Capability.VIEW_WORK)).data


def _pick(work: Work, data: dict, actor: Any) -> None:
    if "ean" in data:
        services.pick_by_barcode(work=work, ean=data["ean"], qty=data["quantity"], actor=actor)
    else:
        services.pick(work=work, line=data["line"], qty=data["quantity"], actor=actor)


def _hand_over(work: Work, data: dict, actor: Any) -> None:
    lines = data.get("lines")
    services.hand_over(
        work=work, quantities={ln["line"]: ln["quantity"] for ln in lines} if lines else None, actor=actor,
        verification=services.Verification(collector_name=data["collector_name"], id_kind=data["id_kind"],
                                           id_last_digits=data["id_last_digits"], relation=data["relation"]),
    )


def _receive(work: Work, data: dict, actor: Any) -> None:
    received: dict[int, int] = {}
    for ln in data.get("lines") or []:
        if ln["line"] in received:
            raise ValidationFailed(f"Line {ln['line']} is given twice.", code="invalid", details={"lines": [ln["line"]]})
        received[ln["line"]] = ln["quantity"]
    services.receive(work=work, actor=actor, received=received or None, reason=data["reason"])


def _reject(work: Work, data: dict, actor: Any) -> None:
    quantities: dict[int, tuple[int, str]] = {}
    for ln in data["lines"]:
        if ln["line"] in quantities:
            raise ValidationFailed(f"Line {ln['line']} is given twice.", code="invalid", details={"lines": [ln["line"]]})
        quantities[ln["line"]] = (ln["quantity"], ln["reason"])
    services.reject(work=work, quantities=quantities, actor=actor, note=data["note"])


# action → (input shape, what it does). One table for every move the API offers.
ACTIONS: dict[str, tuple[type[serializers.Serializer], Callable[[Work, dict, Any], object]]] = {
    "start": (s.WorkActionSerializer, lambda w, d, a: services.start_picking(work=w, actor=a)),
    "pick": (s.WorkPickSerializer, _pick),
    "pack": (s.WorkPackSerializer, lambda w, d, a: services.pack(work=w, box_type=d["box_type"], actor=a)),
    "ship": (s.WorkShipSerializer, lambda w, d, a: services.ship(work=w, tracking_number=d["tracking_number"],
                                                                 carrier=d["carrier"], actor=a)),
    "ready": (s.WorkActionSerializer, lambda w, d, a: services.mark_ready(work=w, actor=a)),
    "dispatch": (s.WorkActionSerializer, lambda w, d, a: services.dispatch(work=w, actor=a)),
    "receive": (s.WorkReceiveSerializer, lambda w, d, a: _receive(w, d, a)),
    "hand-over": (s.WorkHandOverSerializer, _hand_over),
    "reject": (s.WorkRejectSerializer, _reject),
}


class WorkListView(APIView):
    permission_classes = [CanViewWork]

    @extend_schema(operation_id="fulfillment_works_list", responses=page_of(s.WorkSummarySerializer), parameters=[
        OpenApiParameter("status", str), OpenApiParameter("location", str, description="Location code")])
    def get(self, request: Request) -> Response:
        qs = (works_visible(who=principal_from_request(request), capability=Capability.VIEW_WORK)
              .select_related("order", "location").order_by("deadline", "pk"))
        if request.query_params.get("status"):
            qs = qs.filter(status__in=request.query_params["status"].split(","))
        if request.query_params.get("location"):
            qs = qs.filter(location__code=request.query_params["location"])
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.WorkSummarySerializer(page, many=True).data)


class WorkDetailView(APIView):
    permission_classes = [CanViewWork]

    @extend_schema(responses=s.WorkOutSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_work_out(principal_from_request(request), pk))


def _action_view(action: str) -> type[APIView]:
    shape, run = ACTIONS[action]

    class _View(APIView):
        permission_classes = [CanFulfil]

        @extend_schema(request=shape, responses=s.WorkOutSerializer, parameters=[IDEMPOTENCY],
                       operation_id=f"fulfillment_work_{action.replace('-', '_')}")
        def post(self, request: Request, pk: int) -> Response:
            principal = principal_from_request(request)
            work = work_for(who=principal, pk=pk)
            body = request.data if isinstance(request.data, dict) else {}

            def handler() -> tuple[int, Any]:
                run(work, _parse(shape, body), _actor(principal))
                return 200, _work_out(principal, pk)

            answer = idempotent_call(
                channel=work.order.channel, key=namespaced_key("fulfillment", request.headers.get("Idempotency-Key")),
                body={"work": pk, "action": action, "body": body}, handler=handler,
                error_body=lambda exc: error_body(exc.code, exc.message, exc.details),
            )
            response = Response(answer.body, status=answer.status)
            if answer.replayed:
                response["Idempotent-Replayed"] = "true"
            return response

    _View.__name__ = f"Work{''.join(p.title() for p in action.split('-'))}View"
    return _View


WORK_ACTION_VIEWS = {action: _action_view(action) for action in ACTIONS}


class OrderFulfillmentsView(APIView):
    """Each fulfillment of an order the caller may see: status, events, tracking, pickup readiness
    and deadline (served here because orders does not import fulfillment)."""

    permission_classes = [CanViewOrdersOrWork]

    @extend_schema(responses=s.WorkOutSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        principal = principal_from_request(request)
        if principal.is_partner or principal.is_merchandiser:
            order = order_get(principal=principal, order_id=pk)
            works = Work.objects.filter(order=order)
        else:
            works = works_visible(who=principal, capability=Capability.VIEW_WORK).filter(order_id=pk)
            if not works.exists():
                raise NotFound(f"Order {pk} has no work at your locations.", code="unknown_order")
        works = works.select_related("order", "location", "pickup_location").prefetch_related(
            "lines__product", "lines__order_line", "events").order_by("pk")
        return Response(s.WorkOutSerializer(works, many=True).data)


def _order_of(principal: Principal, pk: int) -> Any:
    """The order, if the caller's channel owns it (a partner never reaches another channel's)."""
    return order_get(principal=principal, order_id=pk)


def _choices_out(order: Any) -> list[dict[str, Any]]:
    choices = CustomerChoice.objects.filter(order=order).select_related("location").order_by("pk")
    return list(s.CustomerChoiceOutSerializer(choices, many=True).data)


class OrderChoicesView(APIView):
    """The questions put to the customer about units a pickup store could not supply, with the
    options offered (other pickup stores nearby, delivery, cancel)."""

    permission_classes = [CanViewOrders]

    @extend_schema(operation_id="order_choices_list", responses=s.CustomerChoiceOutSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        return Response(_choices_out(_order_of(principal_from_request(request), pk)))


class OrderChoiceAnswerView(APIView):
    """The customer's answer: pickup at another store, delivery, or cancel the units. With an
    Idempotency-Key; the same answer again changes nothing."""

    permission_classes = [CanPlaceOrders]

    @extend_schema(operation_id="order_choice_answer", request=s.CustomerChoiceInSerializer,
                   responses=s.CustomerChoiceOutSerializer, parameters=[IDEMPOTENCY])
    def post(self, request: Request, pk: int, choice_id: int) -> Response:
        principal = principal_from_request(request)
        order = _order_of(principal, pk)
        body = request.data if isinstance(request.data, dict) else {}

        def handler() -> tuple[int, Any]:
            data = _parse(s.CustomerChoiceInSerializer, body)
            choice = choice_apply(choice=choice_id, option=data["option"], actor=_actor(principal), order=order)
            choice = CustomerChoice.objects.select_related("location").get(pk=choice.pk)
            return 200, s.CustomerChoiceOutSerializer(choice).data

        answer = idempotent_call(
            channel=order.channel, key=namespaced_key("choice", request.headers.get("Idempotency-Key")),
            body={"order": pk, "choice": choice_id, "body": body}, handler=handler,
            error_body=lambda exc: error_body(exc.code, exc.message, exc.details),
        )
        response = Response(answer.body, status=answer.status)
        if answer.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
