"""Returns of online orders at the counter: find the order (number or pickup code), say what comes
back and in what condition; resellable units go back on hand here, the rest to damaged."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from fulfillment.services.returns import returned_order_find, store_return
from omni.errors import OmniError
from orders.selectors import order_returnable
from orders.services import ReturnItem

from ..context import StoreRequest, store_page
from ..feedback import error_text


@store_page
def returns(request: StoreRequest) -> HttpResponse:
    location = request.store.location
    query = (request.POST.get("q") or request.GET.get("q") or "").strip()
    order, lines, error = None, [], ""
    if query:
        try:
            order = returned_order_find(query=query)
        except OmniError as exc:
            error = exc.message
        else:
            lines = [ln for ln in order_returnable(order=order) if ln.returnable]
    if request.method == "POST" and order is not None:
        items = []
        for ln in lines:
            qty = request.POST.get(f"qty_{ln.line_no}", "0").strip()
            if qty.isdigit() and int(qty) > 0:
                items.append(ReturnItem(line_no=ln.line_no, quantity=int(qty),
                                        resellable=request.POST.get(f"condition_{ln.line_no}", "resellable") == "resellable"))
        if not items:
            error = _("Say how many units come back.")
        else:
            try:
                store_return(location=location, query=query, items=items, actor=request.user,
                             external_id=request.POST.get("token", ""), reason=request.POST.get("reason", "")[:255])
            except OmniError as exc:
                error = error_text(exc, "")
            else:
                back = sum(i.quantity for i in items if i.resellable)
                messages.success(request, _("Return of order %(n)s recorded: %(back)d back on sale, %(damaged)d damaged.") % {
                    "n": order.external_id, "back": back, "damaged": sum(i.quantity for i in items) - back})
                return redirect("store:returns", code=location.code)
    return render(request, "store/returns.html", {
        "query": query, "order": order, "lines": lines, "error": error, "token": f"store-return-{uuid.uuid4().hex}",
        "section": "returns"})
