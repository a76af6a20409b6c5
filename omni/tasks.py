"""Celery tasks of omni's base."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="omni.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Beat: a sign of life for the readiness check."""
    from omni.health import beat_heartbeat_record

    beat_heartbeat_record()
