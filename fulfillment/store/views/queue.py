"""The store's queue: its open work by deadline, filtered by what needs doing; htmx polls it for new work."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from fulfillment.models import WorkStatus
from fulfillment.selectors import queue_rows

from ..context import StoreRequest, store_page
from ..display import WAITING_FOR_STAFF, Due, due, kind_labels, status_labels, units_text

# Filter → which works it shows. "overdue": still to prepare and past the deadline.
FILTERS = ("todo", "new", "picking", "ready", "overdue", "all")
_STATUSES = {
    "todo": WAITING_FOR_STAFF,
    "new": {WorkStatus.NEW},
    "picking": {WorkStatus.PICKING, WorkStatus.PICKED, WorkStatus.PACKED},
    "ready": {WorkStatus.READY_FOR_PICKUP},
}
POLL_SECONDS = 15


@dataclass(frozen=True)
class Row:
    """A queue line, ready to print (strings, so that 200 rows render fast)."""

    pk: int
    id: str
    url: str
    order_number: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    units: str
    due: Due
    row_class: str
    pickable: bool


def _row_class(d: Due) -> str:
    return "workrow is-overdue" if d.overdue else "workrow is-soon" if d.soon else "workrow"


@store_page
def queue_page(request: StoreRequest) -> HttpResponse:
    show = request.GET.get("show", "todo")
    show = show if show in FILTERS else "todo"
    now, kinds, labels = timezone.now(), kind_labels(), status_labels()
    base = reverse("store:queue", args=[request.store.location.code])
    rows = []
    for r in queue_rows(location=request.store.location):
        d = due(r, now)
        rows.append(Row(pk=r.pk, id=str(r.pk), url=f"{base}w/{r.pk}/", order_number=r.order_number, kind=r.kind,
                        kind_label=kinds.get(r.kind, r.kind), status=r.status, status_label=labels.get(r.status, r.status),
                        units=units_text(r.picked, r.wanted), due=d, row_class=_row_class(d),
                        pickable=r.status in (WorkStatus.NEW, WorkStatus.PICKING)))
    counts: Counter[str] = Counter()
    for row in rows:
        for name, statuses in _STATUSES.items():
            if row.status in statuses:
                counts[name] += 1
        if row.due.overdue:
            counts["overdue"] += 1
    counts["all"] = len(rows)
    if show == "overdue":
        shown = [r for r in rows if r.due.overdue]
    elif show == "all":
        shown = rows
    else:
        shown = [r for r in rows if r.status in _STATUSES[show]]
    context = {"works": shown, "counts": counts, "tick_label": _("Add to a batch pick: order"), "show": show, "filters": FILTERS, "section": "queue",
               "poll_seconds": POLL_SECONDS, "max_id": max((r.pk for r in rows), default=0)}
    template = "store/_queue_list.html" if request.htmx else "store/queue.html"
    return render(request, template, context)
