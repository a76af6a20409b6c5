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


def _close_old_connections(sender=None, **kwargs) -> None:
    request = getattr(sender, "request", None)
    if getattr(request, "is_eager", False):
        return  # an eager task runs inside its caller (a request, a test): its connection is the caller's
    from django.db import close_old_connections

    close_old_connections()


def _database_connections_as_for_a_request() -> None:
    """A task keeps its thread's database connection as a request does (``CONN_MAX_AGE``), instead
    of Celery's default: its Django fix-up closes every connection before and after every task
    unless ``CELERY_DB_REUSE_MAX`` is set (settings.py sets it out of reach), so each sync drain —
    about ten a second under steady orders — paid for a new PostgreSQL connection (a backend
    forked, authentication, the session set up, cold catalog caches, the ATP statements prepared
    again). As Django does around each request, a connection past its age or left unusable by an
    error (a database restart, a network blip: the task's autoretry then gets a fresh one) is
    closed before and after each task; one in a healthy state is kept for the next."""
    from celery import signals

    signals.task_prerun.connect(_close_old_connections, weak=False)
    signals.task_postrun.connect(_close_old_connections, weak=False)
    # What the fix-up did for the embedded beat's process (``-B``) with the default: close every
    # connection it started with (beat itself uses none).
    signals.beat_embedded_init.connect(_close_all_connections, weak=False)


def _close_all_connections(**kwargs) -> None:
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()


_database_connections_as_for_a_request()


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
