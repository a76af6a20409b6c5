"""Reads over count tasks. The counting sheet is blind: it never carries the system figure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, QuerySet

from .models import CountTask, CountTaskStatus


@dataclass(frozen=True)
class SheetLine:
    """What the person counting sees of one SKU: what to look for, not what the system expects."""

    sku: str
    name: str
    barcode: str
    counted: int | None


def count_tasks_for(*, location_ids: Iterable[int], statuses: Iterable[str] = (CountTaskStatus.OPEN,)) -> QuerySet[CountTask]:
    """The count tasks of these locations, oldest due first (those without a due date last)."""
    return (CountTask.objects.filter(location_id__in=list(location_ids), status__in=list(statuses))
            .select_related("location").order_by(F("due_at").asc(nulls_last=True), "id"))


def count_task_sheet(*, task: CountTask) -> list[SheetLine]:
    return [SheetLine(sku=ln.product.sku, name=ln.product.name, barcode=ln.product.barcode, counted=ln.counted)
            for ln in task.lines.select_related("product").order_by("product__sku")]
