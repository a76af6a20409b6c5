"""Celery tasks of the orders app: a few lines each, calling a service; safe to run twice."""

from __future__ import annotations

from celery import shared_task

from orders.services import backorders_allocate, holds_expire, idempotency_keys_prune


@shared_task(name="orders.tasks.holds_expire")
def holds_expire_task() -> int:
    return holds_expire()


@shared_task(name="orders.tasks.backorders_allocate")
def backorders_allocate_task() -> int:
    """Give stock that arrived to waiting backorders, highest priority first; returns how many lines got it."""
    return sum(1 for r in backorders_allocate() if not r.backordered)


@shared_task(name="orders.tasks.idempotency_keys_prune")
def idempotency_keys_prune_task() -> int:
    return idempotency_keys_prune()
