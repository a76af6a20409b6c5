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


def _request_ids() -> None:
    """The request id of the request that published a task is its worker's log context too."""
    from celery import signals

    from omni.logs import task_postrun_clear_request_id, task_prerun_set_request_id, task_publish_add_request_id

    signals.before_task_publish.connect(task_publish_add_request_id, weak=False)
    signals.task_prerun.connect(task_prerun_set_request_id, weak=False)
    signals.task_postrun.connect(task_postrun_clear_request_id, weak=False)


_request_ids()


def _freeze_loaded_objects(**kwargs) -> None:
    """Move what start-up loaded (Django, the apps, the tasks: ~130,000 objects that live as long
    as the process) out of the garbage collector's sight, as omni/wsgi.py does for gunicorn: every
    full collection walked them again. ``worker_process_init`` runs in each prefork child (the
    production pool), ``worker_ready`` in the process that runs the tasks of a threads/solo pool."""
    import gc

    gc.collect()
    gc.freeze()


def _gc_freeze_at_start() -> None:
    from celery import signals

    signals.worker_process_init.connect(_freeze_loaded_objects, weak=False)
    signals.worker_ready.connect(_freeze_loaded_objects, weak=False)


_gc_freeze_at_start()


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
