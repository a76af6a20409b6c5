"""Per-caller API rate limits (DRF throttling on the cache: Redis when ``REDIS_URL``).

One fixed-window counter per caller and window, not a list of timestamps per request: a partner
token by its id, a person by their user id, anyone else by address. On Redis the counter is counted
and, at its first call, given its expiry in one round trip (a Lua script: ``INCR``, then ``EXPIRE``
when it is 1); on any other cache, ``add`` then ``incr``. Over the limit: 429 ``throttled`` with
``Retry-After`` (seconds until the window turns). ``OMNI_API_RATE`` sets the limit, e.g. ``6000/m``
(per second ``s``, minute ``m``, hour ``h``).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from .roles import principal_from_request

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"6000/m"`` → (6000, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[:1].lower()]


# Atomic in Redis: the counter never exists without its expiry. One EVALSHA, one reply.
_WINDOW_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def window_count(key: str, *, ttl: int) -> int:
    """Count one more call in the window ``key`` (which lives ``ttl`` seconds from its first call);
    the count so far, this one included."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        full = backend.make_and_validate_key(key)
        script = getattr(backend, "_omni_window_script", None)
        if script is None:  # one redis client per cache object (Django's builds one per call)
            client = backend._cache.get_client(full, write=True)
            script = backend._omni_window_script = client.register_script(_WINDOW_LUA)  # type: ignore[attr-defined]
        return int(script(keys=[full], args=[ttl]))
    if backend.add(key, 1, timeout=ttl):
        return 1
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr
        backend.add(key, 1, timeout=ttl)
        return 1


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
        count = window_count(key, ttl=period + 1)
        if count > limit:
            self._wait = period - (now % period)
            return False
        return True

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None
