"""Blind cycle counts: the store's count tasks (planned, from rejections, or ad hoc by scanning),
a counting sheet without the system figure, and the manager's approval of large variances.
Posting goes through inventory's count service; approval refreshes the store's stock accuracy."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocation.accuracy.services import count_task_approve_scored, count_task_submit_scored
from inventory.counting.models import CountTask, CountTaskOrigin, CountTaskStatus
from inventory.counting.selectors import count_task_sheet, count_tasks_for
from inventory.counting.services import count_task_create
from inventory.selectors import product_by_code
from omni.errors import OmniError

from ..context import StoreRequest, forbidden, store_page


@store_page
def counts(request: StoreRequest) -> HttpResponse:
    location = request.store.location
    tasks = list(count_tasks_for(location_ids=[location.pk], statuses=(CountTaskStatus.OPEN, CountTaskStatus.COUNTED)))
    return render(request, "store/counts.html", {"tasks": tasks, "section": "counts"})


@require_POST
@store_page
def count_ad_hoc(request: StoreRequest) -> HttpResponse:
    """Scanned codes (one a line, as a scanner types them) become an ad hoc count task."""
    location = request.store.location
    codes = [c.strip() for c in request.POST.get("codes", "").splitlines() if c.strip()]
    products, unknown = [], []
    for code in dict.fromkeys(codes):
        product = product_by_code(code=code)
        (products.append(product) if product else unknown.append(code))
    if unknown or not products:
        messages.error(request, _("Unknown code(s): %(codes)s.") % {"codes": ", ".join(unknown)} if unknown
                       else _("Scan at least one item to count."))
        return redirect("store:counts", code=location.code)
    task = count_task_create(location=location, products=products, origin=CountTaskOrigin.AD_HOC, created_by=request.user)
    return redirect("store:count", code=location.code, pk=task.pk)


def _task(request: StoreRequest, pk: int) -> CountTask | None:
    return CountTask.objects.filter(pk=pk, location=request.store.location).first()


@store_page
def count(request: StoreRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    if task is None:
        return forbidden(request, _("This count task is not your store's."))
    if request.method == "POST" and task.status == CountTaskStatus.OPEN:
        figures: dict[str, Any] = {}  # what was typed; the count service names a bad figure's SKU
        for line in count_task_sheet(task=task):
            raw = request.POST.get(f"count_{line.sku}", "").strip()
            figures[line.sku] = int(raw) if raw.isdigit() else raw
        try:
            task = count_task_submit_scored(task=task, counts=figures, actor=request.user)
        except OmniError as exc:
            messages.error(request, exc.message)
        else:
            if task.status == CountTaskStatus.APPROVED:
                messages.success(request, _("Count posted. Thank you."))
            else:
                messages.warning(request, _("Counted. Some figures differ a lot from the system: the store manager approves them."))
            return redirect("store:counts", code=request.store.location.code)
    return render(request, "store/count.html", {"task": task, "sheet": count_task_sheet(task=task), "section": "counts",
                                                "can_approve": task.status == CountTaskStatus.COUNTED and request.store.is_manager})


@require_POST
@store_page
def count_approve(request: StoreRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    if task is None or not request.store.is_manager:
        return forbidden(request, _("Only the store manager approves counts."), title=_("Managers only"))
    try:
        count_task_approve_scored(task=task, actor=request.user)
    except OmniError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Count approved and posted to the stock ledger."))
    return redirect("store:counts", code=request.store.location.code)
