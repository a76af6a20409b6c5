"""What staff read when the workflow refuses something: the domain error's code, in their language."""

from __future__ import annotations

from django.utils.translation import gettext as _

from omni.errors import OmniError


def error_text(exc: OmniError, code: str) -> str:
    details = exc.details or {}
    if exc.code == "wrong_item":
        return _("Wrong item: %(sku)s is not in this order. Put it back.") % {"sku": details.get("sku", code)}
    if exc.code == "unknown_barcode":
        return _("Unknown barcode %(code)s: no product has it.") % {"code": code}
    if exc.code == "over_pick":
        return _("Already picked: every unit of this item is in the basket.")
    if exc.code == "illegal_transition":
        return _("This order cannot do that now (it is %(status)s).") % {"status": ", ".join(details.get("status", [])) or "?"}
    if exc.code == "tracking_required":
        return _("Type the tracking number from the carrier's label.")
    if exc.code == "verification_required":
        return _("Record who collects the order (their name).")
    return exc.message
