"""Beat schedule of allocation (collected by omni/celery.py). The sync helper's schedules live in
``allocation/sync_schedules.py``; keys here are prefixed ``allocation-safety-``."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "allocation-safety-stock-nightly": {
        "task": "allocation.tasks.safety_stock_recompute_nightly",
        "schedule": crontab(hour=2, minute=15),
    },
    "allocation-safety-accuracy-refresh": {
        "task": "allocation.tasks.location_accuracy_refresh",
        "schedule": crontab(minute="*/15"),
    },
}
