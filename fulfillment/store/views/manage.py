"""The store manager's page: daily capacity, pause / resume new work, require scanning."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from fulfillment.selectors import store_settings_get
from fulfillment.services.store_settings import store_settings_set
from inventory.selectors import capacity_used
from inventory.services import location_capacity_set
from omni.errors import OmniError

from ..context import StoreRequest, forbidden, store_page
from ..forms import StoreSettingsForm


@store_page
def manage(request: StoreRequest) -> HttpResponse:
    if not request.store.is_manager:
        return forbidden(request, _("Only the store manager can change the store's settings."), title=_("Managers only"))
    location = request.store.location
    settings = store_settings_get(location=location)
    form = StoreSettingsForm(request.POST or None, initial={
        "daily_capacity": location.daily_capacity, "require_scanning": settings.require_scanning})
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "pause":
                location_capacity_set(location=location, daily_capacity=0)
                messages.success(request, _("New work is paused: no new orders come to this store until you resume."))
                return redirect("store:manage", code=location.code)
            if form.is_valid():
                location_capacity_set(location=location, daily_capacity=form.cleaned_data["daily_capacity"])
                store_settings_set(location=location, require_scanning=form.cleaned_data["require_scanning"])
                messages.success(request, _("Saved."))
                return redirect("store:manage", code=location.code)
        except OmniError as exc:
            messages.error(request, exc.message)
    used = capacity_used(location_ids=[location.pk]).get(location.pk, 0)
    return render(request, "store/manage.html", {"form": form, "used_today": used, "section": "manage",
                                                 "paused": location.daily_capacity == 0})
