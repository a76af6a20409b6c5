"""Moving work: start picking, pick (by line or by barcode), pack, ship, mark ready, hand over.

Every function locks the order (through ``orders.order_lock``) and then the work row, in that
order, as every orders change does; then checks the move through the one transition table.
Stock moves only at ship / hand-over, through ``orders`` services (which consume the
reservation through the inventory ledger)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fulfillment.models import PickupVerification, Work, WorkKind, WorkLine, WorkStatus
from fulfillment.signals import work_ready
from inventory.models import Product
from omni.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from orders.services import AllocationStep, allocations_settle, order_lock

from .codes import pickup_code_new
from .events import Actor, actor_label, actor_parts, work_event_record
from .partner_events import event_line, work_partner_event
from .progress import work_settle_if_done
from .transitions import WORK_TRANSITIONS, work_can, work_transition

SHIPPING_KINDS = frozenset({WorkKind.SHIP_FROM_STORE, WorkKind.WAREHOUSE_SHIP})


def work_lock(work: Work | int) -> Work:
    """Inside a transaction: lock the work's order (orders' lock, taken first by every change to an
    order) and then the work row itself."""
    pk = work.pk if isinstance(work, Work) else work
    order_id = Work.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"Work {pk} does not exist.", code="unknown_work", details={"work": ["No such work."]})
    order = order_lock(order=order_id)
    work = Work.objects.select_for_update(of=("self",)).select_related("location", "order").get(pk=pk)
    work.order = order  # the locked row, with its channel (``allocations_settle`` needs it)
    return work


def _lines(work: Work) -> list[WorkLine]:
    return list(WorkLine.objects.select_for_update(of=("self",)).filter(work=work).select_related("product", "order_line").order_by("pk"))


def _line_of(work: Work, line: WorkLine | int) -> WorkLine:
    pk = line.pk if isinstance(line, WorkLine) else line
    found = WorkLine.objects.select_for_update(of=("self",)).select_related("product").filter(work=work, pk=pk).first()
    if found is None:
        raise NotFound(f"Work {work.pk} has no line {pk}.", code="unknown_line", details={"line": [f"Not a line of work {work.pk}."]})
    return found


def _check_quantity(qty: object, *, field: str = "quantity") -> int:
    if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
        raise ValidationFailed(f"{field} must be a whole number of at least 1; got {qty!r}.", code="invalid_quantity",
                               details={field: ["A whole number ≥ 1."]})
    return qty


def start_picking(*, work: Work | int, actor: Actor) -> Work:
    """new → picking."""
    with transaction.atomic():
        work = work_lock(work)
        work_transition(work=work, to=WorkStatus.PICKING, actor=actor)
        return work


def _pick(work: Work, line: WorkLine, qty: int, actor: Actor, data: dict) -> Work:
    if work.status == WorkStatus.NEW:
        work_transition(work=work, to=WorkStatus.PICKING, actor=actor)
    if work.status != WorkStatus.PICKING:
        raise IllegalTransition(f"Work {work.pk} is {WORK_TRANSITIONS.label(work.status)}; nothing can be picked now.",
                                code="illegal_transition", details={"status": [work.status]})
    if qty > line.to_pick:
        raise Conflict(f"{line.product.sku}: {qty} picked but only {line.to_pick} left to pick.", code="over_pick",
                       details={"quantity": [f"At most {line.to_pick}."], "line": [line.pk]})
    line.picked += qty
    line.save(update_fields=["picked"])
    work_event_record(work=work, kind="picked", actor=actor, data={"line": line.pk, "sku": line.product.sku, "quantity": qty, **data})
    return work_settle_if_done(work=work, actor=actor)


def pick(*, work: Work | int, line: WorkLine | int, qty: int = 1, actor: Actor) -> Work:
    """Pick ``qty`` units of one line (a new work starts picking). Once nothing is left to pick the
    work is picked. More than is left: ``over_pick``, nothing changes."""
    qty = _check_quantity(qty)
    with transaction.atomic():
        work = work_lock(work)
        return _pick(work, _line_of(work, line), qty, actor, {})


def pick_by_barcode(*, work: Work | int, ean: str, actor: Actor, qty: int = 1) -> Work:
    """A scanner read ``ean``: pick one unit of the line with that product. A product the work does
    not hold: ``wrong_item``; an unknown barcode: ``unknown_barcode``."""
    qty = _check_quantity(qty)
    code = (ean or "").strip()
    if not code:
        raise ValidationFailed("Scan or type a barcode.", code="invalid", details={"ean": ["Required."]})
    product = Product.objects.filter(Q(barcode=code) | Q(barcodes__code=code) | Q(sku=code)).order_by("pk").first()
    if product is None:
        raise NotFound(f"No product has the barcode {code}.", code="unknown_barcode", details={"ean": [code]})
    with transaction.atomic():
        work = work_lock(work)
        lines = [ln for ln in _lines(work) if ln.product_id == product.pk]
        if not lines:
            raise Conflict(f"{product.sku} ({product.name}) is not in this order; put it back.", code="wrong_item",
                           details={"ean": [code], "sku": product.sku})
        line = next((ln for ln in lines if ln.to_pick), lines[0])
        return _pick(work, line, qty, actor, {"ean": code})


def pack(*, work: Work | int, box_type: str = "", actor: Actor) -> Work:
    """picked → packed (``box_type`` as the store chose it)."""
    with transaction.atomic():
        work = work_lock(work)
        work.box_type, work.packed_at = (box_type or "").strip()[:32], timezone.now()
        work_transition(work=work, to=WorkStatus.PACKED, actor=actor, data={"box_type": work.box_type},
                        extra_fields=("box_type", "packed_at"))
        return work


def _on_time(work: Work, at) -> bool:
    return at <= work.deadline


def ship(*, work: Work | int, tracking_number: str, carrier: str = "", actor: Actor) -> Work:
    """packed → shipped: every picked unit leaves on_hand and reserved through the ledger (the
    order's allocations are fulfilled, in part where units were rejected)."""
    tracking_number, carrier = (tracking_number or "").strip(), (carrier or "").strip()
    if not tracking_number:
        raise ValidationFailed("A shipment needs its tracking number.", code="tracking_required",
                               details={"tracking_number": ["Required."]})
    with transaction.atomic():
        work = work_lock(work)
        if work.kind not in SHIPPING_KINDS or not work_can(work, WorkStatus.SHIPPED):
            work_transition(work=work, to=WorkStatus.SHIPPED, actor=actor)  # raises the clear error
        label = actor_label(actor)
        shipped, partner_lines, steps, moved = [], [], [], []
        for line in _lines(work):
            qty = line.ready_quantity
            if qty:
                steps.append(AllocationStep(allocation_id=line.allocation_id, quantity=qty))
                shipped.append({"line": line.pk, "sku": line.product.sku, "quantity": qty})
                partner_lines.append(event_line(line, qty))
                line.handed_over += qty
                moved.append(line)
        if not shipped:
            raise Conflict(f"Work {work.pk} has nothing picked to ship.", code="nothing_to_ship")
        # every allocation in one pass under the order lock taken above, the lines in one update
        allocations_settle(order=work.order, steps=steps, actor=label)
        WorkLine.objects.bulk_update(moved, ["handed_over"])
        now = timezone.now()
        work.tracking_number, work.carrier = tracking_number[:64], carrier[:64]
        work.shipped_at, work.on_time = now, _on_time(work, now)
        work_transition(work=work, to=WorkStatus.SHIPPED, actor=actor,
                        data={"tracking_number": work.tracking_number, "carrier": work.carrier, "lines": shipped},
                        extra_fields=("tracking_number", "carrier", "shipped_at", "on_time"))
        work_partner_event(work=work, kind="shipped", lines=partner_lines, at=now,
                           tracking_number=work.tracking_number, carrier=work.carrier)
        return work


def mark_ready(*, work: Work | int, actor: Actor) -> Work:
    """A pickup is ready: picked (or packed) → ready for pickup, with its pickup code. Sends
    ``fulfillment.signals.work_ready`` after commit (the customer is notified)."""
    with transaction.atomic():
        return _mark_ready_locked(work_lock(work), actor)


def _mark_ready_locked(work: Work, actor: Actor) -> Work:
    """``mark_ready`` on a work the caller locked (also the arrival of a ship-to-store transfer)."""
    now = timezone.now()
    if not work.pickup_code:
        work.pickup_code = pickup_code_new()
    work.ready_at, work.on_time = now, _on_time(work, now)
    work_transition(work=work, to=WorkStatus.READY_FOR_PICKUP, actor=actor, data={"pickup_code": work.pickup_code},
                    extra_fields=("pickup_code", "ready_at", "on_time"))
    work_partner_event(work=work, kind="ready_for_pickup", location=work.pickup_location or work.location, at=now,
                       lines=[event_line(ln, ln.ready_quantity) for ln in _lines(work) if ln.ready_quantity],
                       pickup_code=work.pickup_code)
    work_id = work.pk
    transaction.on_commit(lambda: work_ready.send(sender=Work, work_id=work_id))
    return work


@dataclass(frozen=True)
class Verification:
    """The ID check at a hand-over."""

    collector_name: str
    id_kind: str = ""
    id_last_digits: str = ""
    relation: str = "customer"


def hand_over(
    *, work: Work | int, quantities: Mapping[int, int] | None = None, verification: Verification, actor: Actor,
) -> Work:
    """ready for pickup → collected. ``quantities`` (work line id → units; default every ready
    unit) are handed over and leave stock through the ledger; ready units the customer does not
    take are given back to sellable stock (declined), the line shows what was collected."""
    name = (verification.collector_name or "").strip()
    if not name:
        raise ValidationFailed("Record who collects the order (their name).", code="verification_required",
                               details={"collector_name": ["Required."]})
    with transaction.atomic():
        work = work_lock(work)
        if not work_can(work, WorkStatus.COLLECTED):
            work_transition(work=work, to=WorkStatus.COLLECTED, actor=actor)  # raises the clear error
        lines = _lines(work)
        by_pk = {ln.pk: ln for ln in lines}
        wanted = {ln.pk: ln.ready_quantity for ln in lines} if quantities is None else dict(quantities)
        for pk, qty in wanted.items():
            if pk not in by_pk:
                raise NotFound(f"Work {work.pk} has no line {pk}.", code="unknown_line", details={"quantities": [pk]})
            if isinstance(qty, bool) or not isinstance(qty, int) or not 0 <= qty <= by_pk[pk].ready_quantity:
                raise ValidationFailed(f"Line {pk} ({by_pk[pk].product.sku}): {qty!r} cannot be handed over; "
                                       f"{by_pk[pk].ready_quantity} are ready.", code="invalid_quantity",
                                       details={"quantities": {str(pk): [f"Between 0 and {by_pk[pk].ready_quantity}."]}})
        if not sum(wanted.values()):
            raise ValidationFailed("Hand over at least one unit (or reject the pickup).", code="invalid_quantity",
                                   details={"quantities": ["Nothing to hand over."]})
        label = actor_label(actor)
        handed, declined, collected, not_taken, steps = [], [], [], [], []
        for line in lines:
            give, ready = wanted.get(line.pk, 0), line.ready_quantity
            if give or ready:
                collected.append(event_line(line, give, ready=ready))
            if ready - give:
                not_taken.append(event_line(line, ready - give))
            if give:
                steps.append(AllocationStep(allocation_id=line.allocation_id, quantity=give))
                line.handed_over += give
                handed.append({"line": line.pk, "sku": line.product.sku, "quantity": give})
            if ready - give:
                steps.append(AllocationStep(allocation_id=line.allocation_id, quantity=ready - give, cancel=True,
                                            reason="declined at pickup"))
                line.cancelled += ready - give
                declined.append({"line": line.pk, "sku": line.product.sku, "quantity": ready - give})
        # every allocation in one pass under the order lock taken above, the lines in one update
        allocations_settle(order=work.order, steps=steps, actor=label)
        WorkLine.objects.bulk_update(lines, ["handed_over", "cancelled"])
        now = timezone.now()
        user, by_label = actor_parts(actor)
        PickupVerification.objects.create(
            work=work, collector_name=name[:150], id_kind=(verification.id_kind or "")[:32],
            id_last_digits=(verification.id_last_digits or "")[-8:], relation=(verification.relation or "customer")[:32],
            handed_over_by=user, handed_over_label=by_label, at=now,
        )
        work_event_record(work=work, kind="handed_over", actor=actor, at=now, data={
            "lines": handed, "declined": declined, "collector_name": name[:150], "id_kind": verification.id_kind,
            "relation": verification.relation})
        work_transition(work=work, to=WorkStatus.COLLECTED, actor=actor, data={"partial": bool(declined)})
        work_partner_event(work=work, kind="collected", location=work.pickup_location or work.location, at=now,
                           lines=collected, partial=bool(declined), declined=not_taken)
        return work
