"""Count tasks: create (from a rejection, a plan, ad hoc), the blind count, approval.

- ``count_task_create``: a rejection ("not found") adds its SKU to the location's open
  rejection task, so one walk of the store counts them all;
- ``count_task_submit``: staff give what they counted per SKU without seeing the system figure;
  the variance against the figure at that moment is kept on the line. When every line is within
  the snapshot tolerance (``OMNI_SNAPSHOT_APPROVAL_UNITS`` / ``_PERCENT``) the task is approved at
  once, otherwise it waits for a merchandiser;
- ``count_task_approve``: every line's variance goes to the ledger through ``cycle_count_record``
  (applied to today's figure, so sales since the count are kept) and becomes a ``CycleCount``
  for stock accuracy. All lines or none;
- ``count_task_recount`` sends a counted task back to the shelf, ``count_task_cancel`` drops it.

Stock accuracy lives in ``allocation``; its entry points refresh it after a task is approved
(``allocation.accuracy.services.count_task_submit_scored`` / ``count_task_approve_scored``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from omni.errors import Conflict, NotFound, ValidationFailed
from omni.transitions import TransitionTable, transition_apply, transition_check

from ..models import Location, Product, StockLevel
from ..services import cycle_count_record, validate_quantity
from ..snapshots.services import needs_approval
from .models import CountTask, CountTaskLine, CountTaskOrigin, CountTaskStatus

COUNT_TASK_TRANSITIONS = TransitionTable(CountTaskStatus, {
    CountTaskStatus.OPEN: {CountTaskStatus.COUNTED, CountTaskStatus.CANCELLED},
    CountTaskStatus.COUNTED: {CountTaskStatus.APPROVED, CountTaskStatus.OPEN, CountTaskStatus.CANCELLED},
    CountTaskStatus.APPROVED: set(),
    CountTaskStatus.CANCELLED: set(),
})

COUNT_SOURCE = "count-task"


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _lock(task: CountTask | int) -> CountTask:
    pk = task.pk if isinstance(task, CountTask) else task
    try:
        return CountTask.objects.select_for_update(of=("self",)).select_related("location").get(pk=pk)
    except CountTask.DoesNotExist:
        raise NotFound(f"Count task {pk} does not exist.", code="unknown_count_task") from None


def _move(task: CountTask, to: str, *extra: str) -> None:
    transition_apply(obj=task, table=COUNT_TASK_TRANSITIONS, to=to, what=f"Count task #{task.pk}", extra_fields=extra)


def count_task_create(
    *, location: Location, products: Sequence[Product], origin: str = CountTaskOrigin.AD_HOC, created_by: Any = None,
    assigned_to: Any = None, reference: str = "", note: str = "", due_at: datetime | None = None,
) -> CountTask:
    """A task to count ``products`` at ``location``. A rejection adds its SKUs to the location's
    open rejection task when there is one (a SKU already on it is not added twice)."""
    if not isinstance(location, Location) or location.pk is None:
        raise ValidationFailed("A count task needs a location.", code="unknown_location", details={"location": ["Required."]})
    if origin not in CountTaskOrigin.values:
        raise ValidationFailed(f"Unknown origin {origin!r}.", code="invalid", details={"origin": [f"One of {CountTaskOrigin.values}."]})
    wanted = list({p.pk: p for p in products if p is not None and p.pk is not None}.values())
    if not wanted:
        raise ValidationFailed("A count task needs at least one SKU.", code="invalid", details={"skus": ["Required."]})
    for attempt in range(2):
        try:
            with transaction.atomic():
                task = None
                if origin == CountTaskOrigin.REJECTION:
                    task = (CountTask.objects.select_for_update(of=("self",))
                            .filter(location=location, origin=origin, status=CountTaskStatus.OPEN).first())
                if task is None:
                    task = CountTask.objects.create(
                        location=location, origin=origin, reference=reference[:128], note=note[:255], due_at=due_at,
                        created_by=_user(created_by), assigned_to=_user(assigned_to),
                    )
                have = set(task.lines.values_list("product_id", flat=True))
                CountTaskLine.objects.bulk_create([CountTaskLine(task=task, product=p) for p in wanted if p.pk not in have])
                return task
        except IntegrityError:
            if attempt:  # a concurrent rejection created the open task first: add to it
                raise
    raise AssertionError("unreachable")


def count_task_submit(*, task: CountTask | int, counts: Mapping[str, int], actor: Any = None) -> CountTask:
    """Staff's blind count: ``counts`` maps every SKU of the task to the units on the shelf.
    A missing, unknown or invalid figure is refused (naming the SKU) and changes nothing."""
    with transaction.atomic():
        task = _lock(task)
        transition_check(table=COUNT_TASK_TRANSITIONS, current=task.status, to=CountTaskStatus.COUNTED, what=f"Count task #{task.pk}")
        lines = list(task.lines.select_related("product").order_by("product__sku"))
        by_sku = {ln.product.sku: ln for ln in lines}
        errors: dict[str, list[str]] = {}
        for sku in counts:
            if sku not in by_sku:
                errors[sku] = [f"{sku} is not on count task #{task.pk}."]
        for sku, line in by_sku.items():
            if sku not in counts:
                errors[sku] = ["Not counted: give the units on the shelf (0 when there are none)."]
                continue
            try:
                line.counted = validate_quantity(counts[sku], field_name=sku, allow_zero=True)
            except ValidationFailed as exc:
                errors[sku] = [exc.message]
        if errors:
            sku = next(iter(errors))
            raise ValidationFailed(f"Count not accepted: {sku}: {errors[sku][0]}", code="invalid_count", details=errors)
        system = dict(StockLevel.objects.filter(location_id=task.location_id, product_id__in=[ln.product_id for ln in lines])
                      .values_list("product_id", "on_hand"))
        figures = []
        for line in lines:
            assert line.counted is not None  # every line was counted above, or the count was refused
            on_hand = system.get(line.product_id, 0)
            line.system_quantity, line.variance = on_hand, line.counted - on_hand
            figures.append((on_hand, line.counted - on_hand))
        CountTaskLine.objects.bulk_update(lines, ["counted", "system_quantity", "variance"])
        task.counted_by, task.counted_at = _user(actor), timezone.now()
        _move(task, CountTaskStatus.COUNTED, "counted_by", "counted_at")
        if not any(needs_approval(system=on_hand, variance=variance) for on_hand, variance in figures):
            _post(task=task, lines=lines, actor=actor)
    return task


def _post(*, task: CountTask, lines: list[CountTaskLine], actor: Any) -> None:
    """Post every line's variance through the ledger (stock rows taken in primary-key order)."""
    level_ids = dict(StockLevel.objects.filter(location_id=task.location_id, product_id__in=[ln.product_id for ln in lines])
                     .values_list("product_id", "pk"))
    for line in sorted(lines, key=lambda ln: (level_ids.get(ln.product_id, 1 << 62), ln.product_id)):
        line.cycle_count = cycle_count_record(
            product=line.product, location=task.location, variance=line.variance, source=COUNT_SOURCE, actor=actor,
            note=f"count task #{task.pk}",
        ).count
    CountTaskLine.objects.bulk_update(lines, ["cycle_count"])
    task.approved_by, task.approved_at = _user(actor), timezone.now()
    _move(task, CountTaskStatus.APPROVED, "approved_by", "approved_at")


def count_task_approve(*, task: CountTask | int, actor: Any = None) -> CountTask:
    """Post a counted task's variances to the ledger. Refused (nothing posted) when a line would
    take the shelf below what is reserved for orders."""
    with transaction.atomic():
        task = _lock(task)
        transition_check(table=COUNT_TASK_TRANSITIONS, current=task.status, to=CountTaskStatus.APPROVED, what=f"Count task #{task.pk}")
        _post(task=task, lines=list(task.lines.select_related("product")), actor=actor)
    return task


def count_task_recount(*, task: CountTask | int, actor: Any = None) -> CountTask:
    """Send a counted task back to be counted again (its figures are cleared)."""
    locked: CountTask | None = None
    try:
        with transaction.atomic():
            locked = _lock(task)
            _move(locked, CountTaskStatus.OPEN)
            locked.lines.update(counted=None, system_quantity=None, variance=None)
    except IntegrityError:
        where = locked.location.code if locked is not None else "This location"
        raise Conflict(f"{where} already has an open count task for rejections; count its SKUs there.",
                       code="open_rejection_task_exists") from None
    return locked


def count_task_cancel(*, task: CountTask | int, actor: Any = None) -> CountTask:
    with transaction.atomic():
        task = _lock(task)
        _move(task, CountTaskStatus.CANCELLED)
    return task
