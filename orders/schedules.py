"""Beat schedule of the orders app (collected by omni/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "orders-holds-expire": {"task": "orders.tasks.holds_expire", "schedule": 30.0},
    "orders-backorders-allocate": {"task": "orders.tasks.backorders_allocate", "schedule": 120.0},
    "orders-idempotency-keys-prune": {"task": "orders.tasks.idempotency_keys_prune", "schedule": crontab(hour=3, minute=10)},
}
