"""The pickup desk: orders ready for collection here, and the hand-over with the ID check
(whole or in part: what the customer does not take goes back to stock)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from fulfillment import services
from fulfillment.models import WorkStatus
from fulfillment.selectors import find_pickup, put_back_tasks, uncollected
from fulfillment.services.pickup import put_back_done
from omni.errors import OmniError

from ..context import StoreRequest, store_page
from ..display import size_of
from ..feedback import error_text
from ..forms import HandOverForm, SearchForm
from .work import _not_here, _work


@store_page
def pickup_desk(request: StoreRequest) -> HttpResponse:
    """Find a pickup (code, order number, name, phone); what waits here, longest first; the goods of
    expired pickups to put back on the shelf."""
    location = request.store.location
    if request.method == "POST":  # a put-back task of this store is done
        task = request.POST.get("task", "")
        try:
            if not put_back_tasks(location=location).filter(pk=int(task)).exists():
                raise ValueError(task)
            put_back_done(task=int(task), actor=request.user)
        except (OmniError, ValueError):
            messages.error(request, _("That put-back task is not open."))
        else:
            messages.success(request, _("Put back on the shelf."))
        return redirect("store:pickup", code=location.code)
    form = SearchForm(request.GET or None)
    found = None
    if form.is_valid():
        found = list(find_pickup(location=location, query=form.cleaned_data["q"]))
        if len(found) == 1:
            return redirect("store:pickup_work", code=location.code, pk=found[0].pk)
    tasks = list(put_back_tasks(location=location))
    return render(request, "store/pickup.html", {
        "form": form, "found": found, "waiting": list(uncollected(location=location)), "put_back": tasks, "section": "pickup"})


@store_page
def pickup_work(request: StoreRequest, pk: int) -> HttpResponse:
    work = _work(request, pk)
    if work is None:
        return _not_here(request)
    lines = [ln for ln in work.lines.all() if ln.ready_quantity]
    for ln in lines:
        ln.size = size_of(ln.product)  # type: ignore[attr-defined]
    form = HandOverForm(request.POST or None, lines=lines)
    if request.method == "POST" and form.is_valid():
        try:
            services.hand_over(work=pk, quantities=form.quantities(), verification=form.verification(), actor=request.user)
        except OmniError as exc:
            messages.error(request, error_text(exc, ""))
        else:
            messages.success(request, _("Order %(n)s handed over to %(who)s.") % {
                "n": work.order.external_id, "who": form.cleaned_data["collector_name"]})
            return redirect("store:pickup", code=request.store.location.code)
    return render(request, "store/pickup_work.html", {"work": work, "lines": lines, "form": form, "section": "pickup",
                                                      "can_hand_over": work.status == WorkStatus.READY_FOR_PICKUP})
