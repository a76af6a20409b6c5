"""Beat schedule of fulfillment (collected by omni/celery.py): pickup reminders and expiry."""

BEAT_SCHEDULE = {
    "fulfillment-pickup-reminders": {"task": "fulfillment.tasks.pickup_reminders_send", "schedule": 600.0},
    "fulfillment-pickups-expire": {"task": "fulfillment.tasks.pickups_expire", "schedule": 900.0},
}
