"""Celery tasks of allocation: the nightly safety-stock recompute and the stock-accuracy refresh
(channel sync's tasks are in ``allocation/sync/tasks.py``). Each is a few lines over a service and
safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="allocation.tasks.safety_stock_recompute_nightly")
def safety_stock_recompute_nightly() -> dict[str, int]:
    from allocation.safety_stock.services import safety_stock_recompute

    result = safety_stock_recompute()
    return {"policies": result.policies, "changed": result.changed}


@shared_task(name="allocation.tasks.location_accuracy_refresh")
def location_accuracy_refresh_task() -> int:
    from allocation.accuracy.services import location_accuracy_refresh

    return location_accuracy_refresh()
