"""One work item: pick it (scan or tap), report an issue, pack and ship it, mark a pickup ready,
print its packing slip. Progress lives in the database, so a reload loses nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fulfillment import services
from fulfillment.models import Work, WorkKind, WorkStatus
from fulfillment.selectors import store_settings_get, work_for
from inventory.selectors import shelves_at
from omni.errors import OmniError

from ..carriers import carrier_backend
from ..context import StoreRequest, forbidden, store_page
from ..display import due, rejection_text, shelf_order, size_of, units
from ..feedback import error_text
from ..forms import ISSUE_REASONS, IssueForm

BOX_TYPES = ("S", "M", "L", "XL", "envelope")


def _work(request: StoreRequest, pk: int) -> Work | None:
    """The work if it is at this store (and so the user's); None otherwise."""
    try:
        work = work_for(who=request.store.principal, pk=pk)
    except OmniError:
        return None
    here = request.store.location.pk
    return work if here in (work.location_id, work.pickup_location_id) else None


def _not_here(request: StoreRequest) -> HttpResponse:
    return forbidden(request, _("This order is not in your store's queue."), title=_("Not your store's order"))


def _context(request: StoreRequest, work: Work, **extra) -> dict:
    lines = list(work.lines.all())
    shelves = shelves_at(location_id=work.location_id, product_ids={ln.product_id for ln in lines})
    for ln in lines:
        ln.size = size_of(ln.product)  # type: ignore[attr-defined]
        ln.shelf = shelves.get(ln.product_id, "")  # type: ignore[attr-defined]
    lines.sort(key=lambda ln: (shelf_order(ln.shelf), ln.pk))  # type: ignore[attr-defined]  # one walk through the store
    picked, wanted = units(lines)
    return {
        "work": work, "lines": lines, "picked_units": picked, "wanted_units": wanted, "due": due(work),
        "require_scanning": store_settings_get(location=request.store.location).require_scanning,
        "can_pick": work.status in (WorkStatus.NEW, WorkStatus.PICKING),
        "can_pack": work.status == WorkStatus.PICKED and work.kind in (WorkKind.SHIP_FROM_STORE, WorkKind.WAREHOUSE_SHIP),
        "can_ship": work.status == WorkStatus.PACKED and work.kind in (WorkKind.SHIP_FROM_STORE, WorkKind.WAREHOUSE_SHIP),
        "can_ready": services.work_can(work, WorkStatus.READY_FOR_PICKUP),
        "box_types": BOX_TYPES, "carrier": carrier_backend(), "section": "queue", "reasons": ISSUE_REASONS,
        "can_report": work.status in (WorkStatus.NEW, WorkStatus.PICKING, WorkStatus.PICKED, WorkStatus.PACKED),
        **extra,
    }


def _show(template: str):
    """A GET page of one work of this store."""

    @store_page
    def view(request: StoreRequest, pk: int) -> HttpResponse:
        work = _work(request, pk)
        if work is None:
            return _not_here(request)
        return render(request, template, _context(request, work))

    return view


work_page = _show("store/work.html")
slip = _show("store/slip.html")  # the packing slip, laid out for paper (print CSS)


def _after_pick(request: StoreRequest, pk: int, feedback: dict) -> HttpResponse:
    work = _work(request, pk)
    assert work is not None
    context = _context(request, work, feedback=feedback)
    if request.htmx and work.status in (WorkStatus.NEW, WorkStatus.PICKING):
        return render(request, "store/_pick_panel.html", context)
    if feedback.get("ok"):
        messages.success(request, feedback["text"])
    else:
        messages.error(request, feedback["text"])
    if request.htmx:  # everything is picked: the whole page, with the next step (pack / ready)
        return HttpResponseClientRedirect(reverse("store:work", args=[request.store.location.code, pk]))
    return redirect("store:work", code=request.store.location.code, pk=pk)


@require_POST
@store_page
def scan(request: StoreRequest, pk: int) -> HttpResponse:
    """The scanner typed a barcode and Enter: one unit of the right item counts; a wrong one is refused."""
    if _work(request, pk) is None:
        return _not_here(request)
    code = request.POST.get("ean", "").strip()
    try:
        work = services.pick_by_barcode(work=pk, ean=code, actor=request.user)
    except OmniError as exc:
        return _after_pick(request, pk, {"ok": False, "text": error_text(exc, code)})
    line = next((ln for ln in work.lines.all() if code in (ln.product.barcode, ln.product.sku)), None)
    text = _("Picked 1 × %(name)s.") % {"name": line.product.name} if line else _("Picked 1 unit.")
    return _after_pick(request, pk, {"ok": True, "text": text})


@require_POST
@store_page
def pick_line(request: StoreRequest, pk: int, line_pk: int) -> HttpResponse:
    """Count one unit by hand (refused where the store requires scanning)."""
    if _work(request, pk) is None:
        return _not_here(request)
    if store_settings_get(location=request.store.location).require_scanning:
        return _after_pick(request, pk, {"ok": False, "text": _("This store picks by scanning only: scan the item's barcode.")})
    try:
        services.pick(work=pk, line=line_pk, qty=1, actor=request.user)
    except OmniError as exc:
        return _after_pick(request, pk, {"ok": False, "text": error_text(exc, "")})
    return _after_pick(request, pk, {"ok": True, "text": _("Picked 1 unit.")})


def _act(request: StoreRequest, pk: int, action, done: str | Callable[[Any], str]) -> HttpResponse:
    """Run the service; say what it did (``done``, or worded from its answer) or why it refused."""
    if _work(request, pk) is None:
        return _not_here(request)
    try:
        result = action()
    except OmniError as exc:
        messages.error(request, error_text(exc, ""))
    else:
        messages.success(request, done(result) if callable(done) else done)
    return redirect("store:work", code=request.store.location.code, pk=pk)


@require_POST
@store_page
def pack(request: StoreRequest, pk: int) -> HttpResponse:
    box = request.POST.get("box_type", "")
    return _act(request, pk, lambda: services.pack(work=pk, box_type=box, actor=request.user),
                _("Packed in box %(box)s. Print the packing slip and add the tracking number.") % {"box": box or "—"})


@require_POST
@store_page
def ship(request: StoreRequest, pk: int) -> HttpResponse:
    """Ship with the typed tracking number, or the one the carrier backend books."""
    work = _work(request, pk)
    if work is None:
        return _not_here(request)
    backend = carrier_backend()
    tracking = request.POST.get("tracking_number", "").strip() or backend.book(work=work, box_type=work.box_type) or ""
    carrier = request.POST.get("carrier", "").strip() or backend.name
    return _act(request, pk, lambda: services.ship(work=pk, tracking_number=tracking, carrier=carrier, actor=request.user),
                _("Shipped with tracking number %(number)s.") % {"number": tracking})


@require_POST
@store_page
def report_issue(request: StoreRequest, pk: int) -> HttpResponse:
    """"Report an issue": units of one line (or, for a manager, of every line) are not there or
    damaged; the workflow applies the reason's stock effect and re-routes them (a pickup at this
    store: the customer is asked instead), and its answer says which happened."""
    work = _work(request, pk)
    if work is None:
        return _not_here(request)
    form = IssueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a reason and how many units."))
        return redirect("store:work", code=request.store.location.code, pk=pk)
    lines = [ln for ln in work.lines.all() if ln.open_quantity]
    reason, note = form.cleaned_data["reason"], form.cleaned_data["note"]
    if form.cleaned_data["whole_order"]:
        wanted = {ln.pk: (ln.open_quantity, reason) for ln in lines}
    else:
        line = next((ln for ln in lines if ln.pk == form.cleaned_data["line"]), None)
        qty = form.cleaned_data["quantity"] or 0
        wanted = {line.pk: (qty, reason)} if line else {}
    everything = bool(wanted) and all(wanted.get(ln.pk, (0, ""))[0] >= ln.open_quantity for ln in lines)
    if everything and not request.store.is_manager:
        messages.error(request, _("Only the store manager can reject a whole order. Ask them, or report fewer units."))
        return redirect("store:work", code=request.store.location.code, pk=pk)
    return _act(request, pk, lambda: services.work_reject(work=pk, quantities=wanted, actor=request.user, note=note),
                rejection_text)


@require_POST
@store_page
def ready(request: StoreRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda: services.mark_ready(work=pk, actor=request.user),
                _("Ready for pickup: the customer is told their pickup code."))
