"""Celery tasks of allocation (safety stock). A few lines each, calling a service; safe to run twice."""

from __future__ import annotations

from celery import shared_task

from .safety_services import safety_stock_recompute


@shared_task(name="allocation.tasks.safety_stock_recompute_nightly")
def safety_stock_recompute_nightly() -> dict[str, int]:
    result = safety_stock_recompute()
    return {"policies": result.policies, "changed": result.changed}


@shared_task(name="allocation.tasks.location_accuracy_refresh")
def location_accuracy_refresh_task() -> int:
    from .accuracy import location_accuracy_refresh

    return location_accuracy_refresh()
