from __future__ import annotations

from datetime import UTC, timedelta

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from ..models import Location, LocationKind, MovementReason, Product, StockLevel, StockMovement, VelocityClass


class CodeListFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """``?sku=A,B,C``: any of these values."""


class LocationFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=LocationKind.choices)
    city = django_filters.CharFilter(lookup_expr="iexact")
    country = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Location
        fields = ["kind", "is_active", "can_ship", "can_pickup", "city", "country"]


class ProductFilter(django_filters.FilterSet):
    sku = CodeListFilter(field_name="sku", help_text="One SKU or a comma-separated list.")
    velocity_class = django_filters.MultipleChoiceFilter(choices=VelocityClass.choices)
    season = django_filters.CharFilter(lookup_expr="iexact")
    barcode = django_filters.CharFilter(method="filter_barcode", help_text="Any of the product's barcodes.")

    class Meta:
        model = Product
        fields = ["sku", "velocity_class", "season", "is_active", "barcode"]

    def filter_barcode(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(barcode=value) | Q(barcodes__code=value)).distinct()


class StockLevelFilter(django_filters.FilterSet):
    sku = CodeListFilter(field_name="product__sku", help_text="One SKU or a comma-separated list.")
    location = CodeListFilter(field_name="location__code", help_text="One location code or a comma-separated list.")
    kind = django_filters.MultipleChoiceFilter(field_name="location__kind", choices=LocationKind.choices,
                                               help_text="Location kind (repeat for several).")
    in_stock = django_filters.BooleanFilter(method="filter_in_stock", help_text="true: only rows with units on hand.")

    class Meta:
        model = StockLevel
        fields = ["sku", "location", "kind", "in_stock"]

    def filter_in_stock(self, queryset, name, value):
        return queryset.filter(on_hand__gt=0) if value else queryset.filter(on_hand=0)


class _BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time the database can compare with: an offset within ±14:00 (every real time zone;
    PostgreSQL refuses ±16:00 and beyond) and a year that stays a year once in UTC."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > timedelta(hours=14):
            raise forms.ValidationError("A time zone offset between -14:00 and +14:00.", code="invalid")
        try:
            parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("A time between the years 1 and 9999.", code="invalid") from None
        return parsed


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _BoundedIsoDateTimeField


class StockMovementFilter(django_filters.FilterSet):
    sku = CodeListFilter(field_name="stock_level__product__sku", help_text="One SKU or a comma-separated list.")
    location = CodeListFilter(field_name="stock_level__location__code", help_text="One location code or a comma-separated list.")
    reason = django_filters.MultipleChoiceFilter(choices=MovementReason.choices)
    source = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    since = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="gte", help_text="ISO 8601, inclusive.")
    until = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="ISO 8601, exclusive.")

    class Meta:
        model = StockMovement
        fields = ["sku", "location", "reason", "source", "external_id", "since", "until"]
