"""Readiness: the outbox lag (django-health-check). Stock changes wait in the outbox until a sync
drain takes them; the oldest pending one older than ``OMNI_HEALTH_OUTBOX_LAG_SECONDS`` means the
sync workers are down or behind."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from health_check.backends import BaseHealthCheckBackend
from health_check.exceptions import ServiceUnavailable

from .models import OutboxEvent


class OutboxLagHealthCheck(BaseHealthCheckBackend):
    def check_status(self) -> None:
        oldest = OutboxEvent.objects.filter(processed_at__isnull=True).order_by("id").values_list("created_at", flat=True).first()
        if oldest is None:
            return
        lag = (timezone.now() - oldest).total_seconds()
        if lag > settings.OMNI_HEALTH_OUTBOX_LAG_SECONDS:
            raise ServiceUnavailable(f"The oldest stock change not yet drained to channels is {lag:.0f} s old.")

    def identifier(self) -> str:
        return "outbox_lag"
