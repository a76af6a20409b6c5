"""Celery tasks of fulfillment: a few lines each that call a service; safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="fulfillment.tasks.notification_send")
def notification_send_task(notification_id: int) -> str | None:
    from fulfillment.notifications.services import notification_send

    note = notification_send(notification_id=notification_id)
    return None if note is None else note.status


@shared_task(name="fulfillment.tasks.pickup_reminders_send")
def pickup_reminders_send_task() -> int:
    from fulfillment.services.pickup import pickup_reminders_send

    return len(pickup_reminders_send())


@shared_task(name="fulfillment.tasks.pickups_expire")
def pickups_expire_task() -> int:
    from fulfillment.services.pickup import pickups_expire

    return len(pickups_expire())


@shared_task(name="fulfillment.tasks.choices_expire")
def choices_expire_task() -> int:
    from fulfillment.services.choices import choices_expire

    return len(choices_expire())


@shared_task(name="fulfillment.tasks.notifications_sweep")
def notifications_sweep_task() -> int:
    from fulfillment.notifications.services import notifications_sweep

    return len(notifications_sweep())
