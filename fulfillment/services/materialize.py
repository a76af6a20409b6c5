"""Work from allocations: each reserved allocation of an order becomes a line of the work at its
location (one work per order × location while it is new); allocations the order cancelled leave
their work (a work with nothing left is cancelled). Idempotent: running it again changes nothing.

Called by the receiver of ``orders.signals.allocations_changed`` (inside the transaction that
changed the allocations, with the order locked) and by anyone who wants to re-sync an order."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfillment.models import Work, WorkKind, WorkLine, WorkStatus
from inventory.models import LocationKind
from orders.models import Allocation, AllocationStatus, DeliveryMode, Order
from orders.selectors import allocations_of_order
from orders.services import order_lock

from .choices import choices_close_moot, delivery_line_ids
from .codes import pickup_code_new
from .events import work_event_record
from .progress import work_settle_if_done
from .sla import work_deadline

_SHIPPING_KINDS: dict[str, str] = {LocationKind.STORE: WorkKind.SHIP_FROM_STORE}


def _kind(alloc: Allocation, order: Order, delivered: dict) -> tuple[str, int | None]:
    if order.delivery_mode == DeliveryMode.BOPIS:
        chosen_at = delivered.get(alloc.line_id)
        if chosen_at is not None and alloc.created_at >= chosen_at:
            pass  # the customer chose delivery for these units (the pickup store could not supply them)
        elif alloc.ship_to_store_id is not None:
            return WorkKind.SHIP_TO_STORE, alloc.ship_to_store_id
        else:
            # Collected where it is picked: the order's store, or the one the customer chose instead.
            return WorkKind.BOPIS, alloc.location_id
    return _SHIPPING_KINDS.get(alloc.location.kind, WorkKind.WAREHOUSE_SHIP), None


def materialize(*, order: Order | int) -> list[Work]:
    """Bring the order's work in line with its allocations. Returns the works it created or changed."""
    order_id = order.pk if isinstance(order, Order) else order
    with transaction.atomic():
        order = order_lock(order=order_id)
        allocs = allocations_of_order(order_id=order.pk)
        known = {wl.allocation_id: wl for wl in WorkLine.objects.select_related("work").filter(work__order_id=order.pk)}
        touched: dict[int, Work] = {}
        now = timezone.now()
        delivered = delivery_line_ids(order=order) if order.delivery_mode == DeliveryMode.BOPIS else {}
        for alloc in allocs:
            wl = known.get(alloc.pk)
            if wl is None and alloc.status == AllocationStatus.RESERVED:
                work = _new_work(order=order, alloc=alloc, now=now, touched=touched, delivered=delivered)
                WorkLine.objects.create(work=work, allocation_id=alloc.pk, order_line=alloc.line, product=alloc.line.product,
                                        quantity=alloc.quantity)
                work_event_record(work=work, kind="line_added", actor="system", at=now, data={
                    "allocation": alloc.pk, "line": alloc.line.line_no, "sku": alloc.line.product.sku, "quantity": alloc.quantity})
            elif wl is not None and alloc.status == AllocationStatus.CANCELLED and wl.open_quantity and wl.work.is_open:
                work = touched.setdefault(wl.work_id, wl.work)
                gone = wl.open_quantity
                wl.cancelled += gone
                wl.save(update_fields=["cancelled"])
                work_event_record(work=work, kind="line_cancelled", actor="system", at=now, data={
                    "line": alloc.line.line_no, "sku": alloc.line.product.sku, "quantity": gone, "reason": alloc.reason})
        for work in touched.values():
            work_settle_if_done(work=Work.objects.select_for_update(of=("self",)).get(pk=work.pk), actor="system")
        choices_close_moot(order=order)
        return list(touched.values())


def _new_work(*, order: Order, alloc: Allocation, now, touched: dict[int, Work], delivered: dict) -> Work:
    work = Work.objects.filter(order=order, location_id=alloc.location_id, status=WorkStatus.NEW).first()
    if work is not None:
        return touched.setdefault(work.pk, work)
    kind, pickup_id = _kind(alloc, order, delivered)
    work = Work.objects.create(
        order=order, location=alloc.location, pickup_location_id=pickup_id, kind=kind,
        deadline=work_deadline(kind=kind, location=alloc.location, start=now),
        pickup_code=pickup_code_new() if kind in (WorkKind.BOPIS, WorkKind.SHIP_TO_STORE) else "",
    )
    work_event_record(work=work, kind="created", actor="system", at=now, to_status=WorkStatus.NEW, data={
        "kind": kind, "location": alloc.location.code, "deadline": work.deadline.isoformat()})
    touched[work.pk] = work
    return work

