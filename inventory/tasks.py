"""Celery tasks of the inventory app (``import_*`` tasks run on the ``imports`` queue)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(name="inventory.tasks.import_stock_run", acks_late=True)
def import_stock_run(job_id: int) -> str:
    """Run a stock import job. Safe to run twice: a finished job is left as it is, and a job
    cut off mid-run applied nothing (its apply is one transaction), so it starts again."""
    from inventory.imports.services import stock_import_run

    return stock_import_run(job_id=job_id).status


@shared_task(name="inventory.tasks.ledger_alert_check", acks_late=True, autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=1, retry_backoff_max=60, retry_jitter=True, max_retries=5, ignore_result=True)
def ledger_alert_check() -> int:
    """Nightly: check every stock figure against the ledger; drift raises an Alert (admin)."""
    from inventory.alerts.services import ledger_alert_check as check

    return check()


@shared_task(name="inventory.tasks.imports_reap", ignore_result=True)
def imports_reap() -> int:
    """Beat: finish the import jobs whose worker died (failed with the reason, or cancelled)."""
    from inventory.imports.services import stock_imports_reap

    return stock_imports_reap()


@shared_task(name="inventory.tasks.capacity_reopenings_announce", ignore_result=True)
def capacity_reopenings_announce() -> int:
    """Beat, every quarter hour: stores that were full yesterday reopen at their local midnight;
    channels get their SKUs' figures again (outbox, reason ``capacity``)."""
    from inventory.services import capacity_reopenings_announce as announce

    return len(announce())


@shared_task(name="inventory.tasks.stock_request_keys_prune", ignore_result=True)
def stock_request_keys_prune() -> int:
    """Beat, nightly: forget the stock API's idempotency keys past their keeping time."""
    from inventory.services import stock_request_keys_prune as prune

    return prune()
