"""Celery tasks of the orders app: a few lines each, calling a service; safe to run twice."""

from __future__ import annotations

from celery import shared_task

from orders.services import holds_expire


@shared_task(name="orders.tasks.holds_expire")
def holds_expire_task() -> int:
    return holds_expire()
