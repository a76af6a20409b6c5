"""The Celery app. Beat schedules are declared per app (``<app>/schedules.py: BEAT_SCHEDULE``)
and collected here, so one beat process runs them all."""

from __future__ import annotations

import importlib
import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni.settings")

app = Celery("omni")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _collect_beat_schedules(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    schedule = dict(settings.CELERY_BEAT_SCHEDULE)
    for label in ("inventory", "allocation", "orders", "fulfillment"):
        for module_name in (f"{label}.schedules", f"{label}.sync_schedules"):
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError:
                continue
            schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    sender.conf.beat_schedule = schedule


@worker_ready.connect
def _sync_sweep_on_start(sender=None, **kwargs) -> None:
    """A (re)started worker first catches up on whatever a dead worker or a down broker left."""
    try:
        sender.app.send_task("allocation.tasks.sync_sweep")
    except Exception:  # noqa: BLE001 - beat's periodic sweep covers it
        pass
