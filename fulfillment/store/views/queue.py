"""The store's queue: its open work by deadline, filtered by what needs doing; htmx polls it for new work."""

from __future__ import annotations

from collections import Counter

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from fulfillment.models import WorkStatus
from fulfillment.selectors import queue

from ..context import StoreRequest, store_page
from ..display import WAITING_FOR_STAFF, due, units

# Filter → which works it shows. "overdue": still to prepare and past the deadline.
FILTERS = ("todo", "new", "picking", "ready", "overdue", "all")
_STATUSES = {
    "todo": WAITING_FOR_STAFF,
    "new": {WorkStatus.NEW},
    "picking": {WorkStatus.PICKING, WorkStatus.PICKED, WorkStatus.PACKED},
    "ready": {WorkStatus.READY_FOR_PICKUP},
}
POLL_SECONDS = 15


@store_page
def queue_page(request: StoreRequest) -> HttpResponse:
    show = request.GET.get("show", "todo")
    show = show if show in FILTERS else "todo"
    now = timezone.now()
    works = list(queue(location=request.store.location))
    counts: Counter[str] = Counter()
    for w in works:
        w.due = due(w, now)  # type: ignore[attr-defined]
        w.lines_list = list(w.lines.all())  # type: ignore[attr-defined]
        w.picked_units, w.wanted_units = units(w.lines_list)  # type: ignore[attr-defined]
        for name, statuses in _STATUSES.items():
            if w.status in statuses:
                counts[name] += 1
        if w.due.overdue:  # type: ignore[attr-defined]
            counts["overdue"] += 1
    counts["all"] = len(works)
    if show == "overdue":
        shown = [w for w in works if w.due.overdue]  # type: ignore[attr-defined]
    elif show == "all":
        shown = works
    else:
        shown = [w for w in works if w.status in _STATUSES[show]]
    context = {"works": shown, "counts": counts, "show": show, "filters": FILTERS, "section": "queue",
               "poll_seconds": POLL_SECONDS, "max_id": max((w.pk for w in works), default=0)}
    template = "store/_queue_list.html" if request.htmx else "store/queue.html"
    return render(request, template, context)
