"""Admin forms for stock operations. Shape only: the submit goes through the one stock-operation
table (``inventory.services.stock_operation_apply``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect

from .models import Location, Product, StockLevel
from omni.errors import OmniError

from .services import ADMIN_OPERATIONS, shelf_clean


class StockOperationForm(forms.Form):
    product = forms.ModelChoiceField(
        queryset=Product.objects.all(),
        widget=AutocompleteSelect(StockLevel._meta.get_field("product"), admin.site),
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True),
        widget=AutocompleteSelect(StockLevel._meta.get_field("location"), admin.site),
    )
    operation = forms.ChoiceField(choices=ADMIN_OPERATIONS, widget=forms.RadioSelect)
    quantity = forms.IntegerField(help_text="Units. Signed for an adjustment; the counted figure for a count.")
    reason = forms.CharField(max_length=255, required=False, help_text="Why (required for an adjustment).")
    reference = forms.CharField(max_length=128, required=False, help_text="Delivery note, count sheet …")


class StockShelfForm(forms.ModelForm):
    """The stock row's admin form: only the shelf is editable, checked as the service checks it."""

    class Meta:
        model = StockLevel
        fields = ["shelf"]

    def clean_shelf(self) -> str:
        try:
            return shelf_clean(self.cleaned_data.get("shelf"))
        except OmniError as exc:
            raise forms.ValidationError(exc.message) from exc
