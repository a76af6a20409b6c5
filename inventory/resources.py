"""django-import-export resources for the admin (upload, preview with diff, confirm; export in
the same format).

Locations and products are catalogue rows (model validation applies: ``clean_model_instances``).
Stock levels are never written directly: a row's ``on_hand`` is a counted figure, and saving it
is a count operation (``inventory.services.stock_operation_apply``: ``cycle_count_record``), which posts the difference to the ledger as a
count correction (with its outbox event), exactly as the API and the fast import path do. The
bulk options (``use_bulk``) only batch catalogue writes; stock rows always go through services.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from omni.errors import OmniError

from . import services
from .models import Location, Product, StockLevel



def _unknown_sku_or_location(instance: StockLevel) -> dict[str, str]:
    """A row's errors for a SKU or a location code that matched nothing."""
    errors: dict[str, str] = {}
    if instance.product_id is None:
        errors["sku"] = "Unknown SKU."
    if instance.location_id is None:
        errors["location"] = "Unknown location."
    return errors

class LocationResource(resources.ModelResource):
    class Meta:
        model = Location
        import_id_fields = ("code",)
        fields = (
            "code", "name", "kind", "address", "city", "postal_code", "country", "latitude", "longitude", "timezone",
            "is_active", "can_ship", "can_pickup", "daily_capacity", "handling_cost",
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class ProductResource(resources.ModelResource):
    class Meta:
        model = Product
        import_id_fields = ("sku",)
        fields = (
            "sku", "name", "barcode", "velocity_class", "unit_cost", "price", "lead_time_days", "season",
            "end_of_season", "launched_on", "is_active",
        )
        export_order = fields
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class StockLevelResource(resources.ModelResource):
    """Columns: sku, location, on_hand (the counted figure); reserved, damaged and quarantine are
    exported for reference and ignored on import."""

    product = fields.Field(attribute="product", column_name="sku", widget=widgets.ForeignKeyWidget(Product, field="sku"))
    location = fields.Field(attribute="location", column_name="location", widget=widgets.ForeignKeyWidget(Location, field="code"))
    on_hand = fields.Field(attribute="on_hand", column_name="on_hand", widget=widgets.IntegerWidget())
    reserved = fields.Field(attribute="reserved", column_name="reserved", readonly=True)
    damaged = fields.Field(attribute="damaged", column_name="damaged", readonly=True)
    quarantine = fields.Field(attribute="quarantine", column_name="quarantine", readonly=True)

    source = "admin-import"

    class Meta:
        model = StockLevel
        import_id_fields = ("product", "location")
        fields = ("product", "location", "on_hand", "reserved", "damaged", "quarantine")
        export_order = fields
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self):
        return StockLevel.objects.select_related("product", "location")

    def before_import(self, dataset, **kwargs: Any) -> None:
        self._actor = kwargs.get("user")
        super().before_import(dataset, **kwargs)

    def import_instance(self, instance: StockLevel, row, **kwargs: Any) -> None:
        super().import_instance(instance, row, **kwargs)
        errors = _unknown_sku_or_location(instance)
        if instance.on_hand is None:
            errors["on_hand"] = "Required: the counted quantity."
        elif instance.on_hand < 0:
            errors["on_hand"] = "A counted quantity cannot be negative."
        if errors:
            raise ValidationError(errors)

    def save_instance(self, instance: StockLevel, is_create: bool, row, **kwargs: Any) -> None:
        """Never ``save()`` the stock row: record the count through the service (also in bulk mode)."""
        self.before_save_instance(instance, row, **kwargs)
        if not self._is_using_transactions(kwargs) and self._is_dry_run(kwargs):
            pass  # no transaction to roll a preview back: show the diff only
        else:
            try:
                result = services.stock_operation_apply(op=services.StockOperation(
                    kind=services.StockOperationKind.COUNT, product=instance.product, location=instance.location,
                    quantity=instance.on_hand, source=self.source, actor=getattr(self, "_actor", None), note="admin stock import",
                ))
            except OmniError as exc:
                raise ValidationError({"on_hand": exc.message}) from exc
            instance.pk = result.stock_level.pk
        self.after_save_instance(instance, row, **kwargs)


class BulkStockLevelResource(StockLevelResource):
    """The same resource with django-import-export's bulk options on (the benchmark baseline)."""

    class Meta(StockLevelResource.Meta):
        use_bulk = True
        batch_size = 1000
        skip_diff = True
        skip_html_diff = True
        force_init_instance = False


class StockShelfResource(resources.ModelResource):
    """Columns: sku, location, shelf: where each item sits (an empty shelf clears it). Set through
    ``stock_shelf_set`` (no ledger row: it is not stock); a SKU with no stock row at that location
    yet is refused with its line."""

    product = fields.Field(attribute="product", column_name="sku", widget=widgets.ForeignKeyWidget(Product, field="sku"))
    location = fields.Field(attribute="location", column_name="location", widget=widgets.ForeignKeyWidget(Location, field="code"))
    shelf = fields.Field(attribute="shelf", column_name="shelf")

    class Meta:
        model = StockLevel
        name = "Shelves (sku, location, shelf)"
        import_id_fields = ("product", "location")
        fields = ("product", "location", "shelf")
        export_order = fields
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self):
        return StockLevel.objects.select_related("product", "location")

    def import_instance(self, instance: StockLevel, row, **kwargs: Any) -> None:
        super().import_instance(instance, row, **kwargs)
        errors = _unknown_sku_or_location(instance)
        if instance.pk is None and not errors:
            errors["location"] = "No stock of this SKU here yet: a shelf is kept on the stock row, which appears when stock first arrives."
        try:
            instance.shelf = services.shelf_clean(instance.shelf)
        except OmniError as exc:
            errors["shelf"] = exc.message
        if errors:
            raise ValidationError(errors)

    def save_instance(self, instance: StockLevel, is_create: bool, row, **kwargs: Any) -> None:
        """Never ``save()`` the stock row (its figures may be stale by now): only the shelf is written."""
        self.before_save_instance(instance, row, **kwargs)
        if self._is_using_transactions(kwargs) or not self._is_dry_run(kwargs):
            try:
                services.stock_shelf_set(product=instance.product, location=instance.location, shelf=instance.shelf)
            except OmniError as exc:
                raise ValidationError({"shelf": exc.message}) from exc
        self.after_save_instance(instance, row, **kwargs)
