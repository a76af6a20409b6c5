"""The Celery app. Beat schedules are declared per app (``<app>/schedules.py: BEAT_SCHEDULE``)
and collected here, so one beat process runs them all."""

from __future__ import annotations

import importlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni.settings")

app = Celery("omni")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["fulfillment.simulation"])  # the routing what-if job


@app.on_after_finalize.connect
def _collect_beat_schedules(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    schedule = dict(settings.CELERY_BEAT_SCHEDULE)
    for label in ("inventory", "allocation", "orders", "fulfillment", "omni.insights"):
        try:
            module = importlib.import_module(f"{label}.schedules")
        except ModuleNotFoundError:
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    sender.conf.beat_schedule = schedule
