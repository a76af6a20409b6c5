"""django-import-export resources for safety-stock policies and channel visibility.

Rows are validated and written through the allocation services (same rules and outbox rows as
the admin and the API); a bad row is reported with its field, and nothing of it is written."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from allocation.channels.models import Channel, ChannelVisibility, LocationGroup
from allocation.channels.services import channel_visibility_add
from allocation.safety_stock.models import SafetyStockPolicy
from allocation.safety_stock.services import safety_stock_policy_set, safety_stock_policy_validate
from inventory.models import Location, Product
from omni.errors import OmniError


def _as_validation_error(exc: OmniError) -> ValidationError:
    if exc.details:
        return ValidationError({k: v if isinstance(v, list) else [str(v)] for k, v in exc.details.items()})
    return ValidationError(exc.message)


class _AllOrNothingResource(resources.ModelResource):
    """A file with any invalid row writes nothing (as the admin import does)."""

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=True, collect_failed_rows=False,
                    rollback_on_validation_errors=True, **kwargs):
        return super().import_data(dataset, dry_run=dry_run, raise_errors=raise_errors, use_transactions=use_transactions,
                                   collect_failed_rows=collect_failed_rows,
                                   rollback_on_validation_errors=rollback_on_validation_errors, **kwargs)


class SafetyStockPolicyResource(_AllOrNothingResource):
    product = fields.Field(attribute="product", column_name="sku", widget=ForeignKeyWidget(Product, "sku"))
    location = fields.Field(attribute="location", column_name="location", widget=ForeignKeyWidget(Location, "code"))
    channel = fields.Field(attribute="channel", column_name="channel", widget=ForeignKeyWidget(Channel, "code"))

    class Meta:
        model = SafetyStockPolicy
        fields = ("product", "scope", "location", "channel", "method", "quantity", "service_level", "lead_time_days",
                  "override_quantity", "effective_quantity", "explanation")
        export_order = fields
        import_id_fields = ("product", "scope", "location", "channel")
        skip_unchanged = True
        report_skipped = True

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        if not errors:
            try:
                safety_stock_policy_validate(
                    product=instance.product if instance.product_id else None, scope=instance.scope,
                    location=instance.location, channel=instance.channel, method=instance.method,
                    quantity=instance.quantity, service_level=instance.service_level,
                    lead_time_days=instance.lead_time_days, override_quantity=instance.override_quantity,
                )
            except OmniError as exc:
                raise _as_validation_error(exc) from None
        if errors:
            raise ValidationError(errors)

    def do_instance_save(self, instance, is_create):
        saved = safety_stock_policy_set(
            product=instance.product, scope=instance.scope, location=instance.location, channel=instance.channel,
            method=instance.method, quantity=instance.quantity, service_level=instance.service_level,
            lead_time_days=instance.lead_time_days, override_quantity=instance.override_quantity,
        )
        instance.pk = saved.pk


class ChannelVisibilityResource(_AllOrNothingResource):
    channel = fields.Field(attribute="channel", column_name="channel", widget=ForeignKeyWidget(Channel, "code"))
    location = fields.Field(attribute="location", column_name="location", widget=ForeignKeyWidget(Location, "code"))
    group = fields.Field(attribute="group", column_name="group", widget=ForeignKeyWidget(LocationGroup, "code"))

    class Meta:
        model = ChannelVisibility
        fields = ("channel", "location", "group")
        import_id_fields = ("channel", "location", "group")
        skip_unchanged = True
        report_skipped = True

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        if not errors:
            if not instance.channel_id:
                errors["channel"] = ["Required."]
            elif (instance.location_id is None) == (instance.group_id is None):
                errors["location"] = ["Exactly one of location and group."]
        if errors:
            raise ValidationError(errors)

    def do_instance_save(self, instance, is_create):
        if not is_create:
            return
        try:
            rule = channel_visibility_add(channel=instance.channel, location=instance.location, group=instance.group)
        except OmniError as exc:
            raise _as_validation_error(exc) from None
        instance.pk = rule.pk
