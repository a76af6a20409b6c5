"""Beat schedule of the orders app (collected by omni/celery.py)."""

BEAT_SCHEDULE = {
    "orders-holds-expire": {"task": "orders.tasks.holds_expire", "schedule": 30.0},
    "orders-backorders-allocate": {"task": "orders.tasks.backorders_allocate", "schedule": 120.0},
}
