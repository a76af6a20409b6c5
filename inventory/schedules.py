"""Beat schedule of the inventory app (collected by omni/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "inventory-ledger-check-nightly": {
        "task": "inventory.tasks.ledger_alert_check",
        "schedule": crontab(hour=2, minute=30),
    },
    "inventory-capacity-reopenings": {  # each store's local midnight falls in one of these runs
        "task": "inventory.tasks.capacity_reopenings_announce",
        "schedule": crontab(minute="*/15"),
    },
    "inventory-imports-reap": {
        "task": "inventory.tasks.imports_reap",
        "schedule": 60.0,
    },
}
