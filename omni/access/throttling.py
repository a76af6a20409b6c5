"""Per-caller API rate limits (DRF throttling on the cache: Redis when ``REDIS_URL``).

One fixed-window counter per caller and window, not a list of timestamps per request: a partner
token by its id, a person by their user id, anyone else by address. On Redis the counter is counted
and, at its first call, given its expiry in one round trip (a Lua script: ``INCRBY``, then ``EXPIRE``
when it is the first); on any other cache, ``add`` then ``incr``. Over the limit: 429 ``throttled`` with
``Retry-After`` (seconds until the window turns). ``OMNI_API_RATE`` sets the limit, e.g. ``6000/m``
(per second ``s``, minute ``m``, hour ``h``).

Leases: from 1,000 calls per window on, a process counts several calls at once (``INCRBY``, a lease of
up to 50, one 500th of the limit) and spends them locally, so most requests make no round trip at
all. The limit still holds across processes — no window ever lets more than ``limit`` calls through —
but a caller may be refused up to (processes − 1) × (lease − 1) calls early, the slots the other
processes still hold (with 6000/m, a lease of 12: under 1 % of the limit per other process). Below
that rate every call is counted in Redis on its own, exactly as before.
"""

from __future__ import annotations

import math
import threading
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
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def window_count(key: str, *, ttl: int, by: int = 1) -> int:
    """Count ``by`` more calls in the window ``key`` (which lives ``ttl`` seconds from its first call);
    the count so far, these included."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        full = backend.make_and_validate_key(key)
        script = getattr(backend, "_omni_window_script", None)
        if script is None:  # one redis client per cache object (Django's builds one per call)
            client = backend._cache.get_client(full, write=True)
            script = backend._omni_window_script = client.register_script(_WINDOW_LUA)  # type: ignore[attr-defined]
        return int(script(keys=[full], args=[ttl, by]))
    if backend.add(key, by, timeout=ttl):
        return by
    try:
        return backend.incr(key, by)
    except ValueError:  # expired between add and incr
        backend.add(key, by, timeout=ttl)
        return by


def lease_size(limit: int) -> int:
    """How many calls one round trip counts for a window of ``limit`` calls (1: every call on its own)."""
    return max(1, min(50, limit // 500))


_EXHAUSTED = -1
_leases: dict[str, tuple[float, int]] = {}  # window key → (the window's end, calls this process may still let through)
_leases_lock = threading.Lock()
_next_prune = 0.0


def window_allow(key: str, *, limit: int, ttl: int, ends_at: float) -> bool:
    """Whether one more call fits in the window ``key`` of ``limit`` calls, which ends at ``ends_at``
    (epoch seconds). With a lease (``lease_size``) most calls are decided in-process."""
    lease = lease_size(limit)
    if lease == 1:
        return window_count(key, ttl=ttl) <= limit
    with _leases_lock:
        _, left = _leases.get(key, (ends_at, 0))
        if left > 0:
            _leases[key] = (ends_at, left - 1)
            return True
        if left == _EXHAUSTED:
            return False
    count = window_count(key, ttl=ttl, by=lease)
    granted = min(lease, max(limit - (count - lease), 0))  # this lease's calls that fit under the limit
    global _next_prune
    with _leases_lock:
        now = time.time()
        if now >= _next_prune:  # windows that have turned, at most once a second
            _next_prune = now + 1
            for stale in [k for k, (end, _) in _leases.items() if end <= now]:
                del _leases[stale]
        _, left = _leases.get(key, (ends_at, 0))
        if granted:
            _leases[key] = (ends_at, max(left, 0) + granted - 1)
        elif left <= 0:
            _leases[key] = (ends_at, _EXHAUSTED)  # the window is spent: refuse here until it turns
    return granted > 0


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
        window = int(now // period)
        key = f"omni:throttle:{self._ident(request)}:{window}"
        if not window_allow(key, limit=limit, ttl=period + 1, ends_at=(window + 1) * period):
            self._wait = period - (now % period)
            return False
        return True

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None
