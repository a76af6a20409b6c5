"""What the store pages show of work: time left to the deadline, a line's size and where it stands.
Plain functions over the fulfillment models (no queries of their own)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fulfillment.models import Work, WorkLine, WorkStatus
from fulfillment.selectors import QueueRow
from fulfillment.services import Rejection
from inventory.models import Product

WAITING_FOR_STAFF = frozenset({WorkStatus.NEW, WorkStatus.PICKING, WorkStatus.PICKED, WorkStatus.PACKED})


def size_of(product: Product) -> str:
    """The size: the SKU's last part (``TS-00001-XL`` → ``XL``), as the catalogue codes it."""
    head, _sep, tail = product.sku.rpartition("-")
    return tail if head and 0 < len(tail) <= 4 else ""


def shelf_order(shelf: str) -> tuple:
    """The order a picker walks the shelves in: A-2 before A-10 (numbers as numbers, letters without
    case); items without a shelf last."""
    parts = [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", shelf) if t]
    return (not shelf, parts)


def _span(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    if hours >= 24:
        days = hours // 24
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    if hours:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": mins}
    return ngettext("%(n)d min", "%(n)d min", mins) % {"n": mins}


@dataclass(frozen=True)
class Due:
    text: str
    overdue: bool
    soon: bool  # less than 30 minutes left


def due(work: Work | QueueRow, now: datetime | None = None) -> Due:
    """"45 min left" / "overdue 1 h 05 min" for work the store still has to prepare."""
    now = now or timezone.now()
    minutes = int((work.deadline - now).total_seconds() // 60)
    if work.status not in WAITING_FOR_STAFF:
        return Due(text="", overdue=False, soon=False)
    if minutes < 0:
        return Due(text=_("overdue %(span)s") % {"span": _span(-minutes)}, overdue=True, soon=False)
    return Due(text=_("%(span)s left") % {"span": _span(minutes)}, overdue=False, soon=minutes < 30)


def units(lines: list[WorkLine]) -> tuple[int, int]:
    """(units picked, units wanted) over a work's lines."""
    return sum(min(ln.picked, ln.wanted) for ln in lines), sum(ln.wanted for ln in lines)


def kind_labels() -> dict[str, str]:
    """Each kind of work's short name, in the active language (build once per page)."""
    return {"bopis": _("Pickup"), "ship_from_store": _("Ship"), "ship_to_store": _("Ship to store"),
            "warehouse_ship": _("Warehouse")}


def kind_label(kind: str) -> str:
    return kind_labels().get(kind, kind)


def status_labels() -> dict[str, str]:
    """Each status's name, in the active language (build once per page)."""
    return {
        WorkStatus.NEW: _("New"), WorkStatus.PICKING: _("Picking"), WorkStatus.PICKED: _("Picked"), WorkStatus.PACKED: _("Packed"),
        WorkStatus.IN_TRANSIT: _("In transit"), WorkStatus.READY_FOR_PICKUP: _("Ready for pickup"), WorkStatus.SHIPPED: _("Shipped"),
        WorkStatus.COLLECTED: _("Collected"), WorkStatus.REJECTED: _("Rejected"), WorkStatus.CANCELLED: _("Cancelled"),
        WorkStatus.EXPIRED: _("Expired"),
    }


def status_label(status: str) -> str:
    return status_labels().get(status, status)


def units_text(picked: int, wanted: int) -> str:
    return ngettext("%(picked)d of %(n)d unit", "%(picked)d of %(n)d units", wanted) % {"picked": picked, "n": wanted}


def rejection_text(outcome: Rejection) -> str:
    """What a reported issue did with the units, in the words the service's answer gives (never
    re-derived from the kind of work): the customer asked, sent on, waiting for stock, cancelled."""
    parts = [_("Reported.")]
    if outcome.choice is not None:
        parts.append(_("The customer is asked whether to collect them at another store, have them delivered or cancel."))
    if outcome.rerouted:
        places = ", ".join(f"{code} ({n})" for code, n in sorted(outcome.rerouted.items()))
        parts.append(_("Sent on to %(places)s.") % {"places": places})
    if outcome.backordered:
        parts.append(ngettext("No other location has %(count)d unit: the order waits for stock (backordered).",
                              "No other location has %(count)d units: the order waits for stock (backordered).",
                              outcome.backordered) % {"count": outcome.backordered})
    if outcome.cancelled:
        parts.append(ngettext("No other location has %(count)d unit: it was cancelled.",
                              "No other location has %(count)d units: they were cancelled.",
                              outcome.cancelled) % {"count": outcome.cancelled})
    if outcome.customer_cancelled:
        parts.append(ngettext("%(count)d unit taken off the order: the customer cancelled it.",
                              "%(count)d units taken off the order: the customer cancelled them.",
                              outcome.customer_cancelled) % {"count": outcome.customer_cancelled})
    return " ".join(parts)
