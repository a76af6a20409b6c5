"""Health and readiness (django-health-check).

- ``GET /health/live``: the process answers (no dependency is asked): a liveness probe.
- ``GET /health/ready``: JSON, 200 when every check passes, 503 otherwise: the database
  (``SELECT 1``), the cache (Redis when ``REDIS_URL``), and with a broker the Celery workers
  (a ping), beat (its heartbeat task ran lately) and the outbox lag (inventory's check).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from health_check.backends import BaseHealthCheckBackend
from health_check.exceptions import ServiceUnavailable
from health_check.views import MainView

BEAT_KEY = "omni:beat:heartbeat"


def beat_heartbeat_record() -> None:
    """Called by the beat-scheduled heartbeat task: beat is alive as of now."""
    cache.set(BEAT_KEY, time.time(), timeout=None)


class BeatHealthCheck(BaseHealthCheckBackend):
    """Beat schedules ``omni.tasks.beat_heartbeat`` every ``OMNI_BEAT_HEARTBEAT_SECONDS``; a worker
    runs it. No heartbeat for ``OMNI_BEAT_STALE_SECONDS``: beat (or every worker) is down."""

    def check_status(self) -> None:
        last = cache.get(BEAT_KEY)
        if last is None:
            raise ServiceUnavailable("No beat heartbeat yet: is `celery -A omni beat` running?")
        age = time.time() - float(last)
        if age > settings.OMNI_BEAT_STALE_SECONDS:
            raise ServiceUnavailable(f"The last beat heartbeat is {age:.0f} s old.")

    def identifier(self) -> str:
        return "beat"


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


_NAMES = {"DatabaseHeartBeatCheck": "database", "Cache backend: default": "cache", "CeleryPingHealthCheck": "workers"}


class ReadyView(MainView):
    """Every registered check, as JSON: 200 when all pass, 503 when one fails."""

    def get(self, request, *args, **kwargs):
        failed = self.check()
        body = {_NAMES.get(name, name): str(plugin.pretty_status()) for name, plugin in self.filter_plugins().items()}
        return JsonResponse({"status": "unavailable" if failed else "ok", "checks": body}, status=503 if failed else 200)


ready = never_cache(ReadyView.as_view())


def register_checks() -> None:
    """Called from ``OmniConfig.ready``: worker and beat checks only where tasks run on workers."""
    from health_check.plugins import plugin_dir

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from health_check.contrib.celery_ping.backends import CeleryPingHealthCheck

        plugin_dir.register(CeleryPingHealthCheck)
        plugin_dir.register(BeatHealthCheck)
