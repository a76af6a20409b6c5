"""Transfers between stores by scanning: receive what arrives (scan each unit, book what came),
dispatch to another store (scan each unit going out, one transfer per item)."""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from inventory.models import Location, LocationKind, Transfer
from inventory.selectors import product_by_code, transfers_in_transit
from inventory.services import transfer_receive, transfer_ship
from omni.errors import OmniError

from ..context import StoreRequest, forbidden, store_page


@store_page
def transfers(request: StoreRequest) -> HttpResponse:
    location = request.store.location
    incoming, outgoing = transfers_in_transit(location_id=location.pk)
    stores = Location.objects.filter(kind=LocationKind.STORE, is_active=True).exclude(pk=location.pk).order_by("code")
    return render(request, "store/transfers.html", {"incoming": incoming, "outgoing": outgoing, "stores": stores,
                                                    "section": "transfers"})


@store_page
def transfer_in(request: StoreRequest, pk: int) -> HttpResponse:
    """Receive one transfer: the scanned units are booked in; fewer than shipped are recorded lost."""
    transfer = Transfer.objects.select_related("product", "from_location").filter(pk=pk, to_location=request.store.location).first()
    if transfer is None:
        return forbidden(request, _("This transfer is not coming to your store."))
    if request.method == "POST":
        raw = request.POST.get("received", "").strip()
        try:
            transfer_receive(transfer=transfer, quantity=int(raw) if raw.isdigit() else -1, actor=request.user,
                             source="store", external_id=f"store-receive-{transfer.pk}")
        except OmniError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Received %(n)s × %(name)s.") % {"n": raw, "name": transfer.product.name})
            return redirect("store:transfers", code=request.store.location.code)
    return render(request, "store/transfer_in.html", {"transfer": transfer, "section": "transfers"})


@require_POST
@store_page
def transfer_out(request: StoreRequest) -> HttpResponse:
    """Scanned units (one code a line) leave for another store: one transfer per item, all or nothing."""
    location = request.store.location
    to = Location.objects.filter(code=request.POST.get("to", ""), kind=LocationKind.STORE, is_active=True).exclude(pk=location.pk).first()
    codes = [c.strip() for c in request.POST.get("codes", "").splitlines() if c.strip()]
    if to is None or not codes:
        messages.error(request, _("Choose the store and scan what goes there."))
        return redirect("store:transfers", code=location.code)
    products = {code: product_by_code(code=code) for code in set(codes)}
    unknown = [c for c, p in products.items() if p is None]
    if unknown:
        messages.error(request, _("Unknown code(s): %(codes)s.") % {"codes": ", ".join(sorted(unknown))})
        return redirect("store:transfers", code=location.code)
    units = Counter(products[c].pk for c in codes)  # type: ignore[union-attr]
    by_pk = {p.pk: p for p in products.values() if p is not None}
    try:
        with transaction.atomic():
            for pk in sorted(units):
                transfer_ship(product=by_pk[pk], from_location=location, to_location=to, quantity=units[pk], actor=request.user,
                              source="store")
    except OmniError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)d units on their way to %(store)s.") % {"n": sum(units.values()), "store": to.name})
    return redirect("store:transfers", code=location.code)
