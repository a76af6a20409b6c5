"""A store's home page."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from ..context import StoreRequest, store_page


@store_page
def store_home(request: StoreRequest) -> HttpResponse:
    return render(request, "store/store_home.html", {"section": "home"})
