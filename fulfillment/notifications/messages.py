"""Rendering a customer message: Django templates under ``templates/fulfillment/notifications/``
with gettext (``{% translate %}``), in the customer's language; the pickup code as a QR code."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from fulfillment.models import CustomerChoice, Work
from inventory.models import Product
from fulfillment.services.pickup_policy import pickup_store_id, pickup_timings

TEMPLATE_DIR = "fulfillment/notifications"


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    sms: str


def message_language(requested: str) -> str:
    """The customer's language when messages exist in it, else the site's."""
    available = {code for code, _ in settings.LANGUAGES}
    lang = (requested or "").lower().split("-")[0]
    return lang if lang in available else settings.LANGUAGE_CODE.split("-")[0]


def pickup_qr_png(code: str, *, scale: int = 6) -> bytes:
    """The pickup code as a QR code (PNG): the store's scanner reads it into the pickup search."""
    buf = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def _context(work: Work, kind: str) -> dict[str, Any]:
    store = work.pickup_location or work.location
    tz = ZoneInfo(store.timezone or "UTC")
    timings = pickup_timings(location_ids=[pickup_store_id(work)])[pickup_store_id(work)]
    expires = timings.expires_at(work.ready_at).astimezone(tz) if work.ready_at else None
    order = work.order
    # what the customer is to collect; once expired, what was held for them
    lines = [(ln, ln.quantity - ln.rejected - ln.handed_over if kind == "expired" else ln.wanted)
             for ln in work.lines.select_related("product").order_by("pk")]
    context: dict[str, Any] = {
        "order": order, "order_number": order.external_id, "customer_name": order.ship_name,
        "store": store, "code": work.pickup_code,
        "items": [{"sku": ln.product.sku, "name": ln.product.name, "quantity": q} for ln, q in lines if q],
        "expires_at": expires,
    }
    if kind == "choice":
        # The latest question about this pickup: the units in question and the options offered.
        choice = CustomerChoice.objects.filter(work=work).order_by("-pk").first()
        if choice is not None:
            names = dict(Product.objects.filter(pk__in=[ln["product_id"] for ln in choice.lines]).values_list("pk", "name"))
            context.update(
                items=[{"sku": ln["sku"], "name": names.get(ln["product_id"], ln["sku"]), "quantity": ln["quantity"]}
                       for ln in choice.lines],
                options=choice.options, expires_at=choice.expires_at.astimezone(tz), store=choice.location,
            )
    return context


def message_render(*, work: Work, kind: str, language: str) -> RenderedMessage:
    """Subject, plain text, HTML (with ``cid:pickup-qr`` where it shows the code) and SMS text."""
    context = _context(work, kind)
    with translation.override(language):
        def one(part: str) -> str:
            return render_to_string(f"{TEMPLATE_DIR}/{kind}_{part}", context)

        return RenderedMessage(subject=" ".join(one("subject.txt").split()), text=one("email.txt").strip(),
                               html=one("email.html"), sms=" ".join(one("sms.txt").split()))
