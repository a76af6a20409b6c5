"""Reads over inventory. No writes here."""

from __future__ import annotations

from django.db.models import QuerySet

from omni.errors import NotFound

from .models import Location, Product, StockLevel


def product_get_by_sku(*, sku: str) -> Product:
    try:
        return Product.objects.get(sku=sku)
    except Product.DoesNotExist:
        raise NotFound(f"Unknown SKU {sku!r}.", code="unknown_sku", details={"sku": [f"No product with SKU {sku!r}."]}) from None


def location_get_by_code(*, code: str) -> Location:
    try:
        return Location.objects.get(code=code)
    except Location.DoesNotExist:
        raise NotFound(
            f"Unknown location {code!r}.", code="unknown_location", details={"location": [f"No location with code {code!r}."]}
        ) from None


def stock_levels(*, sku: str | None = None, location_code: str | None = None, kind: str | None = None,
                 location_ids: list[int] | None = None) -> QuerySet[StockLevel]:
    qs = StockLevel.objects.select_related("product", "location").order_by("product__sku", "location__code")
    if sku:
        qs = qs.filter(product__sku=sku)
    if location_code:
        qs = qs.filter(location__code=location_code)
    if kind:
        qs = qs.filter(location__kind=kind)
    if location_ids is not None:
        qs = qs.filter(location_id__in=location_ids)
    return qs


def product_by_code(*, code: str) -> Product | None:
    """The product a typed or scanned code names: its SKU (any case), its primary barcode or one of
    its other barcodes. ``None`` when nothing matches."""
    code = (code or "").strip()
    if not code:
        return None
    product = (Product.objects.filter(sku__iexact=code).first() or Product.objects.filter(barcode=code).first())
    if product is None:
        product = Product.objects.filter(barcodes__code=code).first()
    return product
