"""A pickup store rejected units: the customer chooses, nothing moves to another city by itself.

When a BOPIS pickup (or a ship-to-store pickup that arrived) is rejected at the pickup store,
``reject`` does not re-route the units; it calls ``choice_request``, which stores the options as
they are now (other pickup stores near the one that rejected, with distance and available units;
delivery from the best shipping location; cancel), tells the customer (email/SMS, after commit)
and the channel (``customer_choice_requested`` event, in the transaction). The order line keeps the
units unallocated meanwhile: they are "awaiting the customer's choice".

- ``choice_apply``: the answer (through the partner API): pickup at store X → reserved there (a new
  BOPIS work at X), delivery → routed as a shipment, cancel → the units are cancelled. All lines or
  none; the same answer again changes nothing; an option whose stock went meanwhile is refused
  (``option_unavailable``) and the question stays open. A ``rerouted`` event tells the channel.
- ``choices_expire`` (beat job): a question unanswered after the channel's hours
  (``ChannelChoicePolicy`` or ``OMNI_CUSTOMER_CHOICE_HOURS``) falls to the channel's shortage rule
  (backorder the line or cancel the units), told to the channel the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fulfillment.models import (
    ChannelChoicePolicy,
    ChoiceKind,
    ChoiceStatus,
    CustomerChoice,
    NotificationKind,
    Work,
    WorkLine,
)
from inventory.models import Location
from omni.errors import Conflict, IllegalTransition, NotFound, OmniError, ValidationFailed
from orders.models import LineStatus, Order
from orders.services import order_event_record, order_lock
from orders.services.choices import (
    choice_options,
    order_line_route_for_delivery,
    order_line_route_to_pickup,
    order_line_shortage,
    order_line_units_give_up,
)

from .events import Actor, actor_label, work_event_record
from .partner_events import work_partner_event

log = logging.getLogger(__name__)

EXPIRED_REASON = "The customer did not choose in time"


def choice_hours(*, channel_id: int) -> int:
    policy = ChannelChoicePolicy.objects.filter(channel_id=channel_id).first()
    return policy.answer_within_hours if policy is not None else settings.OMNI_CUSTOMER_CHOICE_HOURS


def _skus(available: dict[int, int], skus: dict[int, str]) -> dict[str, int]:
    return {skus[pid]: units for pid, units in available.items()}


def choice_request(*, work: Work, lines: list[tuple[WorkLine, int]], where: Location, actor: Actor) -> CustomerChoice:
    """Ask the customer what to do with ``lines`` (work line, units) rejected at ``where``. Inside
    the caller's transaction, the order locked (``reject``)."""
    order = work.order
    wanted: dict[int, int] = {}
    skus: dict[int, str] = {}
    for line, qty in lines:
        wanted[line.product_id] = wanted.get(line.product_id, 0) + qty
        skus[line.product_id] = line.product.sku
    pickups, delivery = choice_options(order=order, wanted=wanted, near=where)
    options: list[dict[str, Any]] = [
        {"id": f"pickup:{p.code}", "kind": ChoiceKind.PICKUP.value, "location": p.code, "name": p.name,
         "distance_km": p.distance_km, "available": _skus(p.available, skus)} for p in pickups]
    if delivery is not None:
        options.append({"id": "delivery", "kind": ChoiceKind.DELIVERY.value, "location": delivery.code,
                        "distance_km": delivery.distance_km, "available": _skus(delivery.available, skus)})
    options.append({"id": "cancel", "kind": ChoiceKind.CANCEL.value})
    now = timezone.now()
    choice = CustomerChoice.objects.create(
        order=order, work=work, location=where, options=options,
        expires_at=now + timedelta(hours=choice_hours(channel_id=order.channel_id)),
        lines=[{"line": ln.order_line.line_no, "order_line_id": ln.order_line_id, "product_id": ln.product_id,
                "sku": ln.product.sku, "quantity": qty} for ln, qty in lines],
    )
    label = actor_label(actor)
    facts = {"choice": choice.pk, "options": [o["id"] for o in options], "expires_at": choice.expires_at.isoformat(),
             "lines": [{"line": ln["line"], "quantity": ln["quantity"]} for ln in choice.lines]}
    order_event_record(order=order, kind="customer_choice_requested", actor=label, data=facts)
    work_event_record(work=work, kind="customer_choice_requested", actor=actor, at=now, data=facts)
    work_partner_event(work=work, kind="customer_choice_requested", location=where, at=now,
                       lines=[{"line": ln["line"], "sku": ln["sku"], "quantity": ln["quantity"]} for ln in choice.lines],
                       choice=choice.pk, options=options, expires_at=choice.expires_at.isoformat())
    from fulfillment.notifications.services import notify

    transaction.on_commit(partial(notify, work=work.pk, kind=NotificationKind.CHOICE))
    return choice


def _lock_choice(choice: CustomerChoice | int, order_id: int | None = None) -> CustomerChoice:
    pk = choice.pk if isinstance(choice, CustomerChoice) else choice
    found = CustomerChoice.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if found is None or (order_id is not None and found != order_id):
        raise NotFound(f"Choice {pk} does not exist for this order.", code="unknown_choice", details={"choice": ["Not found."]})
    order_lock(order=found)
    return CustomerChoice.objects.select_for_update(of=("self",)).select_related("work__order__channel", "location").get(pk=pk)


def _publish_outcome(choice: CustomerChoice, outcome: list[dict[str, Any]], at: datetime, **extra: Any) -> None:
    work_partner_event(work=choice.work, kind="rerouted", location=choice.location, at=at, choice=choice.pk,
                       lines=outcome, **extra)


def choice_apply(*, choice: CustomerChoice | int, option: str, actor: Actor, order: Order | int | None = None) -> CustomerChoice:
    """Apply the customer's answer (see the module docstring). ``order`` (when given) must be the
    choice's order: a caller never reaches another order's question."""
    option = (option or "").strip()
    if not option:
        raise ValidationFailed("Say which option the customer chose.", code="invalid", details={"option": ["Required."]})
    label = actor_label(actor)
    with transaction.atomic():
        choice = _lock_choice(choice, order.pk if isinstance(order, Order) else order)
        if choice.status == ChoiceStatus.ANSWERED and choice.chosen == option:
            return choice  # the same answer again
        if choice.status != ChoiceStatus.OPEN:
            raise Conflict(f"Choice {choice.pk} is {choice.get_status_display().lower()}; it cannot be answered now.",
                           code="choice_closed", details={"status": [choice.status]})
        offered = choice.option(option)
        if offered is None:
            raise ValidationFailed(f"{option!r} is not one of the options offered ({', '.join(o['id'] for o in choice.options)}).",
                                   code="unknown_option", details={"option": [o["id"] for o in choice.options]})
        now = timezone.now()
        if choice.expires_at <= now:
            raise Conflict(f"Choice {choice.pk} expired at {choice.expires_at:%Y-%m-%d %H:%M} UTC.", code="choice_expired",
                           details={"expires_at": [choice.expires_at.isoformat()]})
        kind = offered["kind"]
        choice.status, choice.chosen, choice.chosen_kind = ChoiceStatus.ANSWERED, option, kind
        choice.answered_at, choice.answered_by = now, label[:150]
        choice.save(update_fields=["status", "chosen", "chosen_kind", "answered_at", "answered_by"])  # materialize reads it
        store = None
        if kind == ChoiceKind.PICKUP:
            store = Location.objects.filter(code=offered["location"]).first()
            if store is None:
                raise Conflict(f"{offered['location']} no longer exists.", code="option_unavailable")
        outcome: list[dict[str, Any]] = []
        for ln in choice.lines:
            order_id, line_no, qty = choice.order_id, ln["line"], ln["quantity"]
            try:
                if store is not None:
                    result = order_line_route_to_pickup(order=order_id, line_no=line_no, quantity=qty, location=store, actor=label)
                elif kind == ChoiceKind.DELIVERY:
                    result = order_line_route_for_delivery(order=order_id, line_no=line_no, quantity=qty, actor=label)
                else:
                    result = order_line_units_give_up(order=order_id, line_no=line_no, quantity=qty, actor=label,
                                                      reason="The customer cancelled the items the store could not supply")
            except (IllegalTransition, Conflict) as exc:
                if exc.code not in ("illegal_transition", "nothing_missing"):
                    raise  # the option cannot be honoured: nothing changes, the question stays open
                outcome.append({"line": line_no, "sku": ln["sku"], "quantity": 0, "outcome": "nothing_to_do", "reason": exc.message})
                continue
            codes = dict(Location.objects.filter(pk__in={a.location_id for a in result.allocations}).values_list("pk", "code"))
            outcome.append({"line": line_no, "sku": ln["sku"], "quantity": qty, "from": choice.location.code,
                            "to": [{"location": codes[a.location_id], "quantity": a.quantity} for a in result.allocations],
                            "outcome": "cancelled" if kind == ChoiceKind.CANCEL else kind})
        choice.outcome = {"lines": outcome}
        choice.save(update_fields=["outcome"])
        work_event_record(work=choice.work, kind="customer_chose", actor=actor, at=now,
                          data={"choice": choice.pk, "option": option, "lines": outcome})
        order_event_record(order=choice.work.order, kind="customer_chose", actor=label,
                           data={"choice": choice.pk, "option": option})
        _publish_outcome(choice, outcome, now, chosen=option)
        return choice


def choice_expire(*, choice: CustomerChoice | int, now: datetime | None = None) -> CustomerChoice:
    """An open question past its time falls to the channel's shortage rule. Anything else: unchanged."""
    now = now or timezone.now()
    with transaction.atomic():
        choice = _lock_choice(choice)
        if choice.status != ChoiceStatus.OPEN or choice.expires_at > now:
            return choice
        outcome: list[dict[str, Any]] = []
        for ln in choice.lines:
            try:
                result = order_line_shortage(order=choice.order_id, line_no=ln["line"], quantity=ln["quantity"],
                                             reason=EXPIRED_REASON, actor="system")
            except (IllegalTransition, Conflict) as exc:
                outcome.append({"line": ln["line"], "sku": ln["sku"], "quantity": 0, "outcome": "nothing_to_do", "reason": exc.message})
                continue
            outcome.append({"line": ln["line"], "sku": ln["sku"], "quantity": ln["quantity"], "from": choice.location.code,
                            "to": [], "outcome": "backordered" if result.backordered else "cancelled", "reason": EXPIRED_REASON})
        choice.status, choice.answered_at, choice.outcome = ChoiceStatus.EXPIRED, now, {"lines": outcome}
        choice.save(update_fields=["status", "answered_at", "outcome"])
        work_event_record(work=choice.work, kind="customer_choice_expired", actor="system", at=now,
                          data={"choice": choice.pk, "lines": outcome})
        _publish_outcome(choice, outcome, now, chosen="", reason=EXPIRED_REASON)
        return choice


def choices_expire(*, now: datetime | None = None) -> list[int]:
    """The beat job: every open question past its time. Returns the choices expired this run."""
    now = now or timezone.now()
    done = []
    for pk in CustomerChoice.objects.filter(status=ChoiceStatus.OPEN, expires_at__lte=now).order_by("expires_at", "pk") \
            .values_list("pk", flat=True):
        try:
            if choice_expire(choice=pk, now=now).status == ChoiceStatus.EXPIRED:
                done.append(pk)
        except OmniError as exc:  # one that cannot expire does not stop the others
            log.warning("choice %s could not expire: %s", pk, exc.message)
    return done


def choices_close_moot(*, order: Order) -> list[int]:
    """Open questions about lines the order cancelled (or completed) meanwhile are closed (called
    by ``materialize``, the order locked)."""
    open_choices = list(CustomerChoice.objects.filter(order=order, status=ChoiceStatus.OPEN))
    if not open_choices:
        return []
    statuses = dict(order.lines.values_list("pk", "status"))
    closed = []
    for choice in open_choices:
        if all(statuses.get(ln["order_line_id"]) in (LineStatus.CANCELLED, LineStatus.FULFILLED) for ln in choice.lines):
            choice.status, choice.answered_at = ChoiceStatus.CLOSED, timezone.now()
            choice.save(update_fields=["status", "answered_at"])
            closed.append(choice.pk)
    return closed

