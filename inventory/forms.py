"""Admin forms for stock operations. Shape only: the submit calls inventory.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect

from .models import Location, Product, StockLevel


class StockOperation:
    RECEIVE = "receive"
    ADJUST = "adjust"
    COUNT = "count"
    DAMAGE = "damage"
    choices = [
        (RECEIVE, "Receive goods (+quantity)"),
        (ADJUST, "Adjust (signed quantity, reason required)"),
        (COUNT, "Cycle count (quantity = units counted)"),
        (DAMAGE, "Mark damaged (on hand → damaged)"),
    ]


class StockOperationForm(forms.Form):
    product = forms.ModelChoiceField(
        queryset=Product.objects.all(),
        widget=AutocompleteSelect(StockLevel._meta.get_field("product"), admin.site),
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True),
        widget=AutocompleteSelect(StockLevel._meta.get_field("location"), admin.site),
    )
    operation = forms.ChoiceField(choices=StockOperation.choices, widget=forms.RadioSelect)
    quantity = forms.IntegerField(help_text="Units. Signed for an adjustment; the counted figure for a count.")
    reason = forms.CharField(max_length=255, required=False, help_text="Why (required for an adjustment).")
    reference = forms.CharField(max_length=128, required=False, help_text="Delivery note, count sheet …")
