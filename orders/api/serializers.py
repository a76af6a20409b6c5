"""Shapes of the orders API. Validation of meaning (SKUs, stock, coordinates) is the services' job."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField, empty
from rest_framework.settings import api_settings
from rest_framework.utils.serializer_helpers import BindingDict

from omni.api.fields import QuantityField, bounded_many
from orders.models import Allocation, Hold, HoldLine, Order, OrderEvent, OrderLine, OrderReturn, OrderReturnLine


class FieldsBuiltOnce:
    """For serializers whose fields depend on their class alone (no context, no request, nothing
    changed per instance; DRF's fields keep no state while validating or representing): build the
    fields once per class instead of once per instance. DRF builds a ModelSerializer's fields for
    every instance (introspecting the model, deep-copying the declared fields), which was most of
    the cost of an order's answer (1.2 ms of CPU for a one-line order, 0.08 ms now) and of parsing
    its body (0.37 → 0.06 ms). Put it before the serializer class in the bases. Not for partial
    updates: the fields read ``partial`` (and ``context``) from the template, not the instance."""

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            template: Any = cls()  # bound to a template, not to this instance (no instance kept alive)
            built = BindingDict(template)
            for key, value in template.get_fields().items():
                built[key] = value
            setattr(cls, "_fields_built_once", built)
        return built


class OrderLineInSerializer(FieldsBuiltOnce, serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = QuantityField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, default=Decimal("0"))


class OrderCreateSerializer(FieldsBuiltOnce, serializers.Serializer):
    channel = serializers.CharField(required=False, help_text="Merchandisers only; a partner token's channel is implied.")
    external_id = serializers.CharField(max_length=128)
    customer_ref = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    customer_tier = serializers.CharField(required=False, default="standard")
    delivery_mode = serializers.CharField(required=False, default="standard")
    pickup_location = serializers.CharField(required=False, allow_blank=True, default="")
    ship_to_store = serializers.BooleanField(required=False, default=False)
    ship_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    customer_email = serializers.EmailField(required=False, allow_blank=True, default="",
                                            help_text="Pickup code, reminders and expiry notices go here.")
    customer_phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                           help_text="For SMS, international form (+905…).")
    customer_language = serializers.CharField(max_length=8, required=False, allow_blank=True, default="",
                                              help_text="Language of the customer's messages (tr, en …); default the site's.")
    address = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    latitude = serializers.FloatField(required=False, allow_null=True, default=None)
    longitude = serializers.FloatField(required=False, allow_null=True, default=None)
    hold_id = serializers.CharField(required=False, allow_blank=True, default="")
    lines = bounded_many(OrderLineInSerializer())


class AllocationOutSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    location = serializers.CharField(source="location.code")
    ship_to_store = serializers.CharField(source="ship_to_store.code", default=None, allow_null=True)

    class Meta:
        model = Allocation
        fields = ["id", "location", "quantity", "status", "ship_to_store", "reason"]


class OrderLineOutSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    line = serializers.IntegerField(source="line_no")
    sku = serializers.CharField(source="product.sku")
    fulfilled_from = AllocationOutSerializer(source="allocations", many=True)

    class Meta:
        model = OrderLine
        fields = ["line", "sku", "quantity", "unit_price", "status", "status_reason", "quantity_returned", "delivery_chosen_at",
                  "fulfilled_from"]


class OrderEventOutSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["kind", "actor", "data", "created_at"]


class OrderReturnLineOutSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    line = serializers.IntegerField(source="line.line_no")

    class Meta:
        model = OrderReturnLine
        fields = ["line", "quantity", "resellable", "refund_amount"]


class OrderReturnOutSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    location = serializers.CharField(source="location.code")
    lines = OrderReturnLineOutSerializer(many=True)

    class Meta:
        model = OrderReturn
        fields = ["id", "location", "external_id", "reason", "refund_amount", "actor", "created_at", "lines"]


class OrderOutSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code")
    pickup_location = serializers.CharField(source="pickup_location.code", default=None, allow_null=True)
    hold_id = serializers.UUIDField(allow_null=True)
    lines = OrderLineOutSerializer(many=True)
    events = OrderEventOutSerializer(many=True)
    returns = OrderReturnOutSerializer(many=True, help_text="Returns taken, with the refund owed for each.")

    class Meta:
        model = Order
        fields = ["id", "channel", "external_id", "status", "customer_ref", "customer_tier", "delivery_mode", "pickup_location",
                  "ship_name", "customer_email", "customer_phone", "customer_language", "address", "city", "postal_code",
                  "country", "latitude", "longitude", "hold_id", "created_at", "lines", "events", "returns"]


class OrderSummarySerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code")

    class Meta:
        model = Order
        fields = ["id", "channel", "external_id", "status", "customer_ref", "delivery_mode", "created_at"]


class OrderCancelSerializer(serializers.Serializer):
    lines = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_empty=False,
                                  help_text="Line numbers to cancel; all lines when omitted.")
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class OrderLinePinSerializer(serializers.Serializer):
    location = serializers.CharField(max_length=64, help_text="Code of the location the line's open units are moved to.")
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="",
                                   help_text="Kept with the routing decision and the order's timeline.")


class ReturnItemSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, max_value=32767)
    quantity = QuantityField()
    resellable = serializers.BooleanField(required=False, default=True)
    refund_amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True, default=None,
                                             help_text="Refund for these units; default their price (unit price × quantity).")


class OrderReturnSerializer(serializers.Serializer):
    location = serializers.CharField(help_text="Code of the location where the customer returned the goods.")
    items = bounded_many(ReturnItemSerializer())
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class HoldLineInSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = QuantityField()


class HoldCreateSerializer(serializers.Serializer):
    channel = serializers.CharField(required=False)
    lines = bounded_many(HoldLineInSerializer())
    ttl_seconds = serializers.IntegerField(required=False, default=900)
    pickup_location = serializers.CharField(required=False, allow_blank=True, default="")
    latitude = serializers.FloatField(required=False, allow_null=True, default=None)
    longitude = serializers.FloatField(required=False, allow_null=True, default=None)
    order_ref = serializers.CharField(required=False, allow_blank=True, default="", max_length=128,
                                      help_text="The order number this cart will be placed under, if known: a cart refused "
                                      "for want of stock is a lost sale under it, and the order that follows is not "
                                      "counted again.")


class HoldLineOutSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    location = serializers.CharField(source="location.code")

    class Meta:
        model = HoldLine
        fields = ["sku", "location", "quantity"]


class HoldOutSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.code")
    lines = HoldLineOutSerializer(many=True)

    class Meta:
        model = Hold
        fields = ["id", "channel", "status", "expires_at", "created_at", "lines"]


# --- The answer to an order just placed, without DRF's per-field walk ---------------------------

# How each field's value becomes its representation, chosen once per field from the DRF method it
# would run: the builtin that method calls (``str``, ``int``, ``float``), the value as it is
# (``JSONField``, not binary), ``_DATETIME`` (``DateTimeField``, resolved per answer), or else the
# field's own ``to_representation``. Entries: (name, first attribute or None for a nested value,
# further attributes, conversion, field, value when a relation on the path is missing).
_DATETIME = object()
_MISSING_ASKS = object()  # a relation missing on the path: ask the field (``get_attribute``)
_SKIPPED = object()  # … which may answer SkipField: DRF then leaves the key out
_Entry = tuple[str, str | None, tuple[str, ...], Any, serializers.Field, Any]
_PLANS: dict[type[serializers.Serializer], list[_Entry]] = {}
_BUILTIN = {serializers.CharField.to_representation: str, serializers.IntegerField.to_representation: int,
            serializers.FloatField.to_representation: float}


def _conversion(field: serializers.Field) -> Any:
    method = type(field).to_representation
    if method in _BUILTIN:
        return _BUILTIN[method]
    if method is serializers.BigIntegerField.to_representation:
        coerce = getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
        return str if coerce else int  # ``None`` never reaches it: the serializer keeps None as None
    if method is serializers.JSONField.to_representation and not field.binary:  # type: ignore[attr-defined]
        return None
    if (isinstance(field, serializers.DateTimeField) and method is serializers.DateTimeField.to_representation
            and not hasattr(field, "format")
            and not hasattr(field, "timezone") and type(field).enforce_timezone is serializers.DateTimeField.enforce_timezone
            and type(field).default_timezone is serializers.DateTimeField.default_timezone):
        return _DATETIME
    return field.to_representation


def _missing(field: serializers.Field) -> Any:
    """What DRF's ``get_attribute`` gives when a relation on the path is None: the field's plain
    default (``ship_to_store.code`` → None), or ask the field (a callable default, none, …)."""
    default = field.default
    if default is not empty and not callable(default) and not getattr(field.root, "partial", False):
        return default
    return _MISSING_ASKS


def _plan(cls: type[serializers.Serializer]) -> list[_Entry]:
    """The entries of each readable field of ``cls``, in the answer's order (the fields are built
    once per class: ``FieldsBuiltOnce``). Forgotten when DRF's settings change (BigIntegerField's
    ``COERCE_BIGINT_TO_STRING`` is read here)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = []
        for f in cls().fields.values():
            if f.write_only:
                continue
            path = tuple(f.source_attrs)
            if isinstance(f, serializers.BaseSerializer):
                plan.append((str(f.field_name), None, (), None, f, None))
            else:
                plan.append((str(f.field_name), path[0], path[1:], _conversion(f), f, _missing(f) if path[1:] else None))
        _PLANS[cls] = plan
    return plan


@receiver(setting_changed)
def _forget_plans(*, setting: str, **kwargs: Any) -> None:
    if setting == "REST_FRAMEWORK":
        _PLANS.clear()


def _row(plan: list[_Entry], obj: Any, nested: dict[str, Any], tz: Any) -> dict[str, Any]:
    """What ``cls(obj).data`` holds (``plan``: ``_plan(cls)``), the nested fields taken from
    ``nested`` as they are: each value is what DRF's field's ``to_representation`` gives (None
    stays None, as DRF leaves it). Only for plain attributes and relations already loaded (no
    callables, nothing to read). ``tz``: the current time zone for ``DateTimeField``s when they
    render as ISO 8601 with time zones on (``_datetime_zone``), else None (each asks its field).
    Measured inside requests (thread CPU, 300 orders of 1–2 lines): 250 µs an answer through
    each field's ``to_representation`` (a time-zone look-up in asgiref's ``Local`` per datetime),
    ~70 µs this way."""
    out: dict[str, Any] = {}
    for name, attr, rest, conv, field, missing in plan:
        if attr is None:
            out[name] = nested[name]
            continue
        value = getattr(obj, attr)
        for hop in rest:
            if value is None:  # a relation that is not there ("ship_to_store.code"): DRF's own rule
                value = _asked(field, obj) if missing is _MISSING_ASKS else missing
                break
            value = getattr(value, hop)
        if value is _SKIPPED:
            continue
        if value is None or conv is None:
            out[name] = value
        elif conv is _DATETIME:
            out[name] = _datetime_out(field, value, tz)
        else:
            out[name] = conv(value)
    return out


def _asked(field: serializers.Field, obj: Any) -> Any:
    try:
        return field.get_attribute(obj)
    except SkipField:
        return _SKIPPED


def _datetime_zone() -> Any:
    """The zone ``DateTimeField.to_representation`` converts to, when its answer is the ISO 8601
    text (``DATETIME_FORMAT``) of an aware datetime (``USE_TZ``): looked up once per answer, not
    once per value (DRF's ``default_timezone``, an asgiref ``Local`` read). None: ask the field."""
    fmt = api_settings.DATETIME_FORMAT
    if not settings.USE_TZ or not isinstance(fmt, str) or fmt.lower() != ISO_8601:
        return None
    return timezone.get_current_timezone()


def _datetime_out(field: serializers.Field, value: Any, tz: Any) -> Any:
    """``DateTimeField.to_representation(value)`` for an aware ``datetime`` (its ``enforce_timezone``
    → ``astimezone``, then ``isoformat`` with ``+00:00`` as ``Z``); anything else asks the field."""
    if tz is None or type(value) is not datetime.datetime or value.utcoffset() is None:
        return field.to_representation(value)
    try:
        text = value.astimezone(tz).isoformat()
    except OverflowError:
        return field.to_representation(value)  # DRF's "overflow" error, in its words
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def order_out_as_written(order: Order) -> dict[str, Any]:
    """``OrderOutSerializer(order).data`` for an order ``order_create`` just returned, built from
    what intake wrote and kept with it (its lines, allocations with their locations, timeline; no
    returns yet) — the same answer, key for key and value for value (``tests/orders/
    test_order_path.py`` and ``test_order_answer.py`` compare the bytes), for a fraction of the CPU:
    no copy of the order with prefetch caches (``order_as_written``), no DRF field walk. An order
    from anywhere else is answered by the serializer."""
    written = getattr(order, "_as_written", None)
    if written is None:
        return OrderOutSerializer(order).data
    lines, allocations, events = written
    tz = _datetime_zone()
    alloc_plan, line_plan, event_plan = _plan(AllocationOutSerializer), _plan(OrderLineOutSerializer), _plan(OrderEventOutSerializer)
    no_nested: dict[str, Any] = {}
    by_line: dict[int, list[dict[str, Any]]] = {ln.pk: [] for ln in lines}
    for alloc in allocations:
        by_line[alloc.line_id].append(_row(alloc_plan, alloc, no_nested, tz))
    if len(lines) > 1:
        lines = sorted(lines, key=_line_no)
    return _row(_plan(OrderOutSerializer), order, {
        "lines": [_row(line_plan, ln, {"fulfilled_from": by_line[ln.pk]}, tz) for ln in lines],
        "events": [_row(event_plan, ev, no_nested, tz) for ev in events],
        "returns": [],
    }, tz)


def _line_no(line: OrderLine) -> int:
    return line.line_no


# --- A valid body, without DRF's serializer walk ------------------------------------------------

# a field, or a nested list: (name, field, (child plan, allow_empty, min_length, max_length) or None)
_InPlan = list[tuple[str, serializers.Field, Any]]
_IN_PLANS: dict[type[serializers.Serializer], _InPlan | None] = {}


def _walk_free(cls: type[serializers.Serializer]) -> bool:
    """Whether ``cls`` validates as its fields alone do: no hook of its own (``validate``,
    ``validate_<field>``, validators, its own ``to_internal_value`` or ``run_validation``)."""
    base = serializers.Serializer
    return (issubclass(cls, FieldsBuiltOnce)
            and all(getattr(cls, hook) is getattr(base, hook) for hook in ("validate", "to_internal_value", "run_validation",
                                                                         "run_validators", "get_validators"))
            and not getattr(getattr(cls, "Meta", None), "validators", None))


def _in_plan(cls: type[serializers.Serializer]) -> _InPlan | None:
    if cls in _IN_PLANS:
        return _IN_PLANS[cls]
    _IN_PLANS[cls] = plan = _in_plan_of(cls) if _walk_free(cls) else None
    return plan


def _in_plan_of(cls: type[serializers.Serializer]) -> _InPlan | None:
    plan: _InPlan = []
    lst = serializers.ListSerializer
    for field in cls().fields.values():
        if field.read_only:
            continue
        if getattr(cls, f"validate_{field.field_name}", None) is not None:
            return None
        nested = None
        if isinstance(field, lst):
            child = type(field.child)
            child_plan = _in_plan(child) if issubclass(child, serializers.Serializer) else None
            if child_plan is None or any(getattr(type(field), hook) is not getattr(lst, hook) for hook in (
                    "validate", "to_internal_value", "run_validation", "run_child_validation")):
                return None
            nested = (child_plan, field.allow_empty, getattr(field, "min_length", None), getattr(field, "max_length", None))
        elif isinstance(field, serializers.BaseSerializer) or list(field.source_attrs) != [field.field_name]:
            return None
        plan.append((str(field.field_name), field, nested))
    return plan


def _validated(plan: _InPlan, data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = {}
    for name, field, nested in plan:
        value = data.get(name, empty)
        if nested is not None:
            child_plan, allow_empty, low, high = nested
            if (not isinstance(value, list) or (not allow_empty and not value) or (high is not None and len(value) > high)
                    or (low is not None and len(value) < low)):
                return None
            items = []
            for item in value:
                validated = _validated(child_plan, item)
                if validated is None:
                    return None
                items.append(validated)
            out[name] = items
            continue
        try:
            out[name] = field.run_validation(value)
        except SkipField:
            pass
    return out


def validated_without_walk(cls: type[serializers.Serializer], data: Any) -> dict[str, Any] | None:
    """``cls(data=data).validated_data`` for a body DRF would accept, each value by its field's own
    ``run_validation`` (the same defaults, conversions and checks), without DRF's serializer walk
    (a third of the CPU: 0.03 of 0.09 ms for an order's body). None for any body it would refuse,
    and for a class with validation of its own (``validate``, ``validate_<field>``, …): DRF says
    why, in its words. For ``FieldsBuiltOnce`` serializers of plain fields and lists of them."""
    plan = _in_plan(cls)
    if plan is None:
        return None
    try:
        return _validated(plan, data)
    except (serializers.ValidationError, DjangoValidationError):
        return None
