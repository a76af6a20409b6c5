"""Stock lookup: a SKU or barcode, here and in the nearest stores."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from ..context import StoreRequest, store_page
from ..forms import LookupForm
from ..lookup import stock_lookup


@store_page
def lookup(request: StoreRequest) -> HttpResponse:
    form = LookupForm(request.GET or None)
    result, searched = None, False
    if form.is_valid():
        searched = True
        result = stock_lookup(code=form.cleaned_data["q"], here=request.store.location)
    template = "store/_lookup_result.html" if request.htmx else "store/lookup.html"
    return render(request, template, {"form": form, "result": result, "searched": searched, "section": "lookup"})
