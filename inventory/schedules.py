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
    "inventory-stock-request-keys-prune": {
        "task": "inventory.tasks.stock_request_keys_prune",
        "schedule": crontab(hour=3, minute=20),
    },
    "inventory-imports-reap": {
        "task": "inventory.tasks.imports_reap",
        "schedule": 60.0,
    },
}
