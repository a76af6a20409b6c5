"""Batch pick: one walk through the store for several orders. The list sums units per SKU; a scan
counts for the soonest-due ticked order that still needs that item."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fulfillment import services
from fulfillment.models import Work, WorkStatus
from fulfillment.selectors import queue
from inventory.models import Product
from inventory.selectors import product_by_code, shelves_at
from omni.errors import OmniError

from ..context import StoreRequest, store_page
from ..display import shelf_order, size_of
from ..feedback import error_text

PICKABLE = (WorkStatus.NEW, WorkStatus.PICKING)


@dataclass
class BatchRow:
    product: Product
    size: str
    shelf: str = ""
    wanted: int = 0
    picked: int = 0
    orders: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.picked >= self.wanted


def _selected(request: StoreRequest, ids: list[str]) -> list[Work]:
    wanted = {int(i) for i in ids if i.isdigit()}
    return [w for w in queue(location=request.store.location) if w.pk in wanted]


def _rows(works: list[Work], location_id: int) -> list[BatchRow]:
    """One row per SKU, in the order of a walk through the store (by shelf), the picked ones last."""
    rows: dict[int, BatchRow] = {}
    for w in works:
        for ln in w.lines.all():
            row = rows.setdefault(ln.product_id, BatchRow(product=ln.product, size=size_of(ln.product)))
            row.wanted += ln.wanted
            row.picked += min(ln.picked, ln.wanted)
            if w.order.external_id not in row.orders:
                row.orders.append(w.order.external_id)
    shelves = shelves_at(location_id=location_id, product_ids=rows)
    for pid, row in rows.items():
        row.shelf = shelves.get(pid, "")
    return sorted(rows.values(), key=lambda r: (r.done, shelf_order(r.shelf), r.product.sku))


def _render(request: StoreRequest, works: list[Work], feedback: dict | None = None) -> HttpResponse:
    rows = _rows(works, request.store.location.pk)
    context = {"works": works, "rows": rows, "feedback": feedback, "section": "queue",
               "picked": sum(r.picked for r in rows), "wanted": sum(r.wanted for r in rows)}
    return render(request, "store/_batch_panel.html" if request.htmx else "store/batch.html", context)


@store_page
def batch(request: StoreRequest) -> HttpResponse:
    works = _selected(request, request.GET.getlist("w"))
    if not works:
        return redirect("store:queue", code=request.store.location.code)
    return _render(request, works)


@require_POST
@store_page
def batch_scan(request: StoreRequest) -> HttpResponse:
    works = _selected(request, request.POST.getlist("w"))
    code = request.POST.get("ean", "").strip()
    product = product_by_code(code=code)
    feedback: dict
    if product is None:
        feedback = {"ok": False, "text": _("Unknown barcode %(code)s: no product has it.") % {"code": code}}
        return _render(request, works, feedback)
    target = next((w for w in works if w.status in PICKABLE
                   and any(ln.product_id == product.pk and ln.to_pick for ln in w.lines.all())), None)
    if target is None:
        holds = any(ln.product_id == product.pk for w in works for ln in w.lines.all())
        text = (_("Already picked: every unit of %(sku)s for these orders is in the basket.") if holds
                else _("Wrong item: %(sku)s is not in these orders. Put it back.")) % {"sku": product.sku}
        return _render(request, works, {"ok": False, "text": text})
    try:
        services.pick_by_barcode(work=target, ean=code, actor=request.user)
    except OmniError as exc:
        feedback = {"ok": False, "text": error_text(exc, code)}
    else:
        feedback = {"ok": True, "text": _("1 × %(name)s → order %(order)s") % {"name": product.name, "order": target.order.external_id},
                    "order": target.order.external_id}
    return _render(request, _selected(request, request.POST.getlist("w")), feedback)
