"""Celery tasks of the inventory app (``import_*`` tasks run on the ``imports`` queue)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="inventory.tasks.import_stock_run", acks_late=True)
def import_stock_run(job_id: int) -> str:
    """Run a stock import job. Safe to run twice: a finished job is left as it is, and a job
    cut off mid-run applied nothing (its apply is one transaction), so it starts again."""
    from inventory.imports.services import stock_import_run

    return stock_import_run(job_id=job_id).status
