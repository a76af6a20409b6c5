"""Work from allocations: each reserved allocation of an order becomes a line of the work at its
location (one work per order × location while it is new); allocations the order cancelled leave
their work (a work with nothing left is cancelled). Idempotent: running it again changes nothing.

Called by the receiver of ``orders.signals.allocations_changed`` (inside the transaction that
changed the allocations, with the order locked) and by anyone who wants to re-sync an order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from omni.bulk import Row, bulk_insert_chain
from fulfillment.models import Work, WorkEvent, WorkKind, WorkLine, WorkStatus
from inventory.models import LocationKind
from orders.models import Allocation, AllocationStatus, DeliveryMode, Order
from orders.selectors import allocations_of_order
from orders.services import order_lock

from .choices import choices_close_moot
from .codes import pickup_code_new
from .progress import work_settle_if_done
from .sla import work_deadline, work_slas

_SHIPPING_KINDS: dict[str, str] = {LocationKind.STORE: WorkKind.SHIP_FROM_STORE}


def _kind(alloc: Allocation, order: Order) -> tuple[str, int | None]:
    if order.delivery_mode == DeliveryMode.BOPIS:
        chosen_at = alloc.line.delivery_chosen_at
        if chosen_at is not None and alloc.created_at >= chosen_at:
            pass  # the customer chose delivery for these units (the pickup store could not supply them)
        elif alloc.ship_to_store_id is not None:
            return WorkKind.SHIP_TO_STORE, alloc.ship_to_store_id
        else:
            # Collected where it is picked: the order's store, or the one the customer chose instead.
            return WorkKind.BOPIS, alloc.location_id
    return _SHIPPING_KINDS.get(alloc.location.kind, WorkKind.WAREHOUSE_SHIP), None


def materialize(*, order: Order | int, new_order_allocations: list[Allocation] | None = None) -> list[Work]:
    """Bring the order's work in line with its allocations. Returns the works it created or changed.

    A few queries whatever the number of allocations (the order path runs this on every intake):
    the order lock, its allocations, its work lines, the new works' locations' open work and SLAs,
    then ONE statement inserting the new works, lines and events (``bulk_insert_chain``: a line
    or an event of a new work takes its key inside that statement).

    ``new_order_allocations``: ``order`` (an instance) was inserted in the caller's transaction,
    with these allocations (each with its line, product and location loaded). No other
    transaction can see its row yet, so it is neither locked nor read back, and it has no work:
    three queries less on every intake. Its new works, lines and events are written with the
    transaction's next statement (at the latest its COMMIT), as rows (no instance built: nothing
    reads them in the request); none is returned."""
    if new_order_allocations is not None and isinstance(order, Order):
        _materialize_new_order(order=order, allocations=new_order_allocations)
        return []
    order_id = order.pk if isinstance(order, Order) else order
    with transaction.atomic(savepoint=False):  # an error aborts the caller's transaction anyway
        order = order_lock(order=order_id)
        allocs = allocations_of_order(order_id=order.pk)
        existing = {w.pk: w for w in Work.objects.filter(order_id=order.pk).order_by("id")}
        known: dict[int, WorkLine] = {}
        if existing:  # an order without work yet: one query saved
            for line in WorkLine.objects.filter(work_id__in=list(existing)):
                line.work = existing[line.work_id]
                known[line.allocation_id] = line
        touched: dict[int, Work] = {}  # id() of the work → work (a new work has no key until the insert)
        now = timezone.now()
        added = [a for a in allocs if a.pk not in known and a.status == AllocationStatus.RESERVED]
        works = _works_for(order=order, allocs=added, now=now, existing=existing.values())
        events: list[WorkEvent] = []
        lines: list[WorkLine] = []
        created = [w for w, is_new in works.values() if is_new]
        fresh = {id(w) for w in created}
        for alloc in allocs:
            wl = known.get(alloc.pk)
            if wl is None and alloc.status == AllocationStatus.RESERVED:
                work, is_new = works[alloc.location_id]
                if is_new:  # its "created" event comes before its first line's
                    works[alloc.location_id] = (work, False)
                    events.append(_event(work, "created", now, to_status=WorkStatus.NEW, data={
                        "kind": work.kind, "location": alloc.location.code, "deadline": work.deadline.isoformat()}))
                touched.setdefault(id(work), work)
                lines.append(WorkLine(work=work, allocation_id=alloc.pk, order_line=alloc.line, product=alloc.line.product,
                                      quantity=alloc.quantity))
                events.append(_event(work, "line_added", now, data={
                    "allocation": alloc.pk, "line": alloc.line.line_no, "sku": alloc.line.product.sku, "quantity": alloc.quantity}))
            elif wl is not None and alloc.status == AllocationStatus.CANCELLED and wl.open_quantity and wl.work.is_open:
                work = touched.setdefault(id(wl.work), wl.work)
                gone = wl.open_quantity
                wl.cancelled += gone
                wl.save(update_fields=["cancelled"])
                events.append(_event(work, "line_cancelled", now, data={
                    "line": alloc.line.line_no, "sku": alloc.line.product.sku, "quantity": gone, "reason": alloc.reason}))
        bulk_insert_chain((Work, created), (WorkLine, lines), (WorkEvent, events))
        # A work created just now owes every unit of its lines: nothing to settle there.
        for pk in sorted(w.pk for key, w in touched.items() if key not in fresh):
            work_settle_if_done(work=Work.objects.select_for_update(of=("self",)).get(pk=pk), actor="system")
        if existing:
            choices_close_moot(order=order)
        return list(touched.values())


def _materialize_new_order(*, order: Order, allocations: list[Allocation]) -> None:
    """``materialize`` for an order intake has just inserted, with its allocations in hand: one work
    per location of its reserved allocations (in the order of their first allocation), each with a
    line and a "line_added" event per allocation, its "created" event first — the rows the general
    path writes for an order without work, without its reads (no work, no line to compare with)
    and its bookkeeping: 0.1–0.15 ms of CPU an order less in the web process (docs/performance.md,
    seventh pass). Foreign keys are given as keys where the row exists (the order, locations,
    lines, products), and the new rows as rows (``omni.bulk.Row``: the same values ``Work(**…)``
    would give the insert, without building the instances, ~10 µs each).

    Nothing reads the new rows' keys before the commit (the API answers from the order), so they
    go with the transaction's next statement, at the latest its COMMIT."""
    now = timezone.now()
    reserved = sorted((a for a in allocations if a.status == AllocationStatus.RESERVED), key=lambda a: a.pk)
    if not reserved:
        return
    slas = work_slas(location_ids={a.location_id for a in reserved})
    works: dict[int, Row] = {}  # location id → the order's new work there
    lines: list[Row] = []
    events: list[Row] = []
    for alloc in reserved:
        line = alloc.line
        work = works.get(alloc.location_id)
        if work is None:
            location = alloc.location
            kind, pickup_id = _kind(alloc, order)
            deadline = work_deadline(kind=kind, location=location, start=now, sla=slas.get(alloc.location_id))
            work = works[alloc.location_id] = {
                "order_id": order.pk, "location_id": alloc.location_id, "pickup_location_id": pickup_id, "kind": kind,
                "deadline": deadline,
                "pickup_code": pickup_code_new() if kind in (WorkKind.BOPIS, WorkKind.SHIP_TO_STORE) else "",
            }
            events.append(_event_row(work, "created", now, to_status=WorkStatus.NEW, data={
                "kind": kind, "location": location.code, "deadline": deadline.isoformat()}))
        lines.append({"work": work, "allocation_id": alloc.pk, "order_line_id": line.pk, "product_id": line.product_id,
                      "quantity": alloc.quantity})
        events.append(_event_row(work, "line_added", now, data={
            "allocation": alloc.pk, "line": line.line_no, "sku": line.product.sku, "quantity": alloc.quantity}))
    bulk_insert_chain((Work, list(works.values())), (WorkLine, lines), (WorkEvent, events), keys=False)


def _event_row(work: Row | Work, kind: str, at: datetime, *, data: dict[str, Any], to_status: str = "") -> Row:
    """A "system" work event's fields (``actor_id=None``: no actor, and no related descriptor to go
    through), for a work given as a row or an instance."""
    return {"work": work, "kind": kind, "actor_id": None, "actor_label": "system", "from_status": "", "to_status": to_status,
            "at": at, "data": data}


def _event(work: Work, kind: str, at: datetime, *, data: dict[str, Any], to_status: str = "") -> WorkEvent:
    return WorkEvent(**_event_row(work, kind, at, data=data, to_status=to_status))


def _works_for(*, order: Order, allocs: list[Allocation], now: datetime, existing: Iterable[Work]) -> dict[int, tuple[Work, bool]]:
    """location id → (the order's work there, whether it is new) for these allocations: its new
    work there when it has one (``existing``: the order's works, locked by the order's lock), else
    a new work, one per location, not stored yet (the caller inserts it with its lines)."""
    if not allocs:
        return {}
    first: dict[int, Allocation] = {}
    for alloc in allocs:
        first.setdefault(alloc.location_id, alloc)
    out: dict[int, tuple[Work, bool]] = {
        w.location_id: (w, False) for w in existing if w.status == WorkStatus.NEW and w.location_id in first
    }
    missing = [alloc for loc, alloc in first.items() if loc not in out]
    slas = work_slas(location_ids=[a.location_id for a in missing])
    created = []
    for alloc in missing:
        kind, pickup_id = _kind(alloc, order)
        created.append(Work(
            order=order, location=alloc.location, pickup_location_id=pickup_id, kind=kind,
            deadline=work_deadline(kind=kind, location=alloc.location, start=now, sla=slas.get(alloc.location_id)),
            pickup_code=pickup_code_new() if kind in (WorkKind.BOPIS, WorkKind.SHIP_TO_STORE) else "",
        ))
    for work in created:
        out[work.location_id] = (work, True)
    return out
