"""Beat schedule of allocation (collected by omni/celery.py): safety stock and stock accuracy here,
channel sync's entries from ``allocation/sync/schedules.py``."""

from celery.schedules import crontab

from allocation.sync.schedules import BEAT_SCHEDULE as SYNC_BEAT_SCHEDULE

BEAT_SCHEDULE = {
    **SYNC_BEAT_SCHEDULE,
    "allocation-safety-stock-nightly": {
        "task": "allocation.tasks.safety_stock_recompute_nightly",
        "schedule": crontab(hour=2, minute=15),
    },
    "allocation-safety-accuracy-refresh": {
        "task": "allocation.tasks.location_accuracy_refresh",
        "schedule": crontab(minute="*/15"),
    },
}
