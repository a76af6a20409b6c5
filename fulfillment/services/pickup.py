"""After a pickup is ready: the reminder, expiry, and the put-back task expiry leaves.

- ``pickup_reminders_send``: every ready pickup past its store's reminder time that has not been
  reminded is reminded (once: the notification is unique per work, kind and channel);
- ``pickup_expire``: a ready pickup nobody collected — its units are cancelled through
  ``orders.allocation_cancel`` (the reservation is released, the stock is sellable again, the
  order line is closed without them), the work becomes expired, the store gets a put-back task
  for the units waiting at its counter, and the customer is told. Running it again changes nothing;
- ``pickups_expire``: the beat job, every ready pickup past its store's expiry;
- ``put_back_done``: the store put the goods back on the shelf.

Every function takes ``now`` so that tests (and a catch-up run) can say what time it is.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from fulfillment.models import NotificationKind, PutBackLine, PutBackStatus, PutBackTask, Work, WorkLine, WorkStatus
from fulfillment.notifications.services import notify
from omni.errors import NotFound, OmniError
from omni.transitions import TransitionTable, transition_apply
from orders.services import allocation_cancel

from .events import Actor, actor_label, actor_parts, work_event_record
from .partner_events import event_line, work_partner_event
from .pickup_policy import pickup_store_id, pickup_timings
from .transitions import work_transition
from .workflow import work_lock

log = logging.getLogger(__name__)

PUT_BACK_TRANSITIONS = TransitionTable(PutBackStatus, {PutBackStatus.OPEN: {PutBackStatus.DONE}, PutBackStatus.DONE: set()})
EXPIRED_REASON = "not collected"


def _ready_works() -> list[tuple[Work, datetime]]:
    """Ready pickups with the time each became ready."""
    works = Work.objects.filter(status=WorkStatus.READY_FOR_PICKUP, ready_at__isnull=False).order_by("ready_at", "pk")
    return [(w, w.ready_at) for w in works if w.ready_at is not None]


def pickup_reminders_send(*, now: datetime | None = None) -> list[int]:
    """Remind every customer whose pickup has waited past its store's reminder time (and is not yet
    due to expire). Returns the works reminded this run."""
    now = now or timezone.now()
    works = _ready_works()
    timings = pickup_timings(location_ids={pickup_store_id(w) for w, _ in works})
    reminded = set(Work.objects.filter(pk__in=[w.pk for w, _ in works], notifications__kind=NotificationKind.REMINDER)
                   .values_list("pk", flat=True))
    done = []
    for work, ready_at in works:
        t = timings[pickup_store_id(work)]
        if work.pk in reminded or not (ready_at + t.reminder_after <= now < t.expires_at(ready_at)):
            continue
        notify(work=work, kind=NotificationKind.REMINDER)
        done.append(work.pk)
    return done


def pickup_expire(*, work: Work | int, actor: Actor = "system", now: datetime | None = None) -> Work:
    """Expire one ready pickup (see the module docstring). A work that is no longer ready (collected,
    already expired, cancelled) is returned unchanged."""
    now = now or timezone.now()
    label = actor_label(actor)
    with transaction.atomic():
        work = work_lock(work)
        if work.status != WorkStatus.READY_FOR_PICKUP:
            return work
        lines = list(WorkLine.objects.select_for_update(of=("self",)).filter(work=work).select_related("product", "order_line").order_by("pk"))
        waiting = [(ln, ln.ready_quantity) for ln in lines]
        released, partner_lines = [], []
        for line in lines:
            qty = line.open_quantity
            if qty:
                allocation_cancel(allocation=line.allocation_id, quantity=qty, reason=EXPIRED_REASON, actor=label)
                line.cancelled += qty
                line.save(update_fields=["cancelled"])
                released.append({"line": line.pk, "sku": line.product.sku, "quantity": qty})
                partner_lines.append(event_line(line, qty))
        task = PutBackTask.objects.create(work=work, location_id=pickup_store_id(work))
        PutBackLine.objects.bulk_create([PutBackLine(task=task, product=ln.product, quantity=q) for ln, q in waiting if q])
        work_transition(work=work, to=WorkStatus.EXPIRED, actor=actor,
                        data={"reason": EXPIRED_REASON, "released": released, "put_back_task": task.pk, "at": now.isoformat()})
        work_partner_event(work=work, kind="expired", location=work.pickup_location or work.location, at=now,
                           lines=partner_lines, reason=EXPIRED_REASON)
        transaction.on_commit(lambda: notify(work=work.pk, kind=NotificationKind.EXPIRED))
    return work


def pickups_expire(*, now: datetime | None = None) -> list[int]:
    """Expire every ready pickup past its store's expiry time. Returns the works expired this run."""
    now = now or timezone.now()
    works = _ready_works()
    timings = pickup_timings(location_ids={pickup_store_id(w) for w, _ in works})
    done = []
    for work, ready_at in works:
        if timings[pickup_store_id(work)].expires_at(ready_at) <= now:
            try:
                if pickup_expire(work=work, now=now).status == WorkStatus.EXPIRED:
                    done.append(work.pk)
            except OmniError as exc:  # one pickup that cannot expire does not stop the others
                log.warning("pickup %s could not expire: %s", work.pk, exc.message)
    return done


def put_back_done(*, task: PutBackTask | int, actor: Actor) -> PutBackTask:
    """The store put an expired pickup's goods back on the shelf."""
    pk = task.pk if isinstance(task, PutBackTask) else task
    with transaction.atomic():
        found = PutBackTask.objects.select_for_update(of=("self",)).filter(pk=pk).first()
        if found is None:
            raise NotFound(f"Put-back task {pk} does not exist.", code="unknown_put_back_task")
        user, _ = actor_parts(actor)
        found.done_at, found.done_by = timezone.now(), user
        transition_apply(obj=found, table=PUT_BACK_TRANSITIONS, to=PutBackStatus.DONE, what=f"Put-back task {pk}",
                         extra_fields=("done_at", "done_by"))
        work_event_record(work=found.work, kind="put_back", actor=actor, data={"put_back_task": pk})
    return found
