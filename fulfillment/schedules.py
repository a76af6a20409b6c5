"""Beat schedule of fulfillment (collected by omni/celery.py): pickup reminders and expiry, customer
choices left unanswered, and customer messages stuck "being sent" by a worker that died."""

BEAT_SCHEDULE = {
    "fulfillment-pickup-reminders": {"task": "fulfillment.tasks.pickup_reminders_send", "schedule": 600.0},
    "fulfillment-pickups-expire": {"task": "fulfillment.tasks.pickups_expire", "schedule": 900.0},
    "fulfillment-choices-expire": {"task": "fulfillment.tasks.choices_expire", "schedule": 900.0},
    "fulfillment-notifications-sweep": {"task": "fulfillment.tasks.notifications_sweep", "schedule": 300.0},
}
