"""Per-caller API rate limits (DRF throttling on the cache: Redis when ``REDIS_URL``).

One fixed-window counter per caller and window (``cache.incr``: one atomic round trip, not a list
of timestamps per request): a partner token by its id, a person by their user id, anyone else by
address. Over the limit: 429 ``throttled`` with ``Retry-After`` (seconds until the window turns).
``OMNI_API_RATE`` sets the limit, e.g. ``6000/m`` (per second ``s``, minute ``m``, hour ``h``).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from .roles import principal_from_request

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"6000/m"`` → (6000, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[:1].lower()]


class CallerRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def _ident(self, request) -> str:
        principal = principal_from_request(request)
        token = getattr(principal, "token", None)
        if token is not None:
            return f"token:{token.pk}"
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"addr:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        rate = settings.OMNI_API_RATE
        if not rate:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        key = f"omni:throttle:{self._ident(request)}:{int(now // period)}"
        if cache.add(key, 1, timeout=period + 1):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=period + 1)
                count = 1
        if count > limit:
            self._wait = period - (now % period)
            return False
        return True

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None
