"""Operations: per-caller rate limits with Retry-After, health and readiness, a request id in every
log line (and in the tasks a request publishes), JSON logs, a Content-Security-Policy on every page."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import services
from inventory.health import OutboxLagHealthCheck
from inventory.models import OutboxEvent
from omni.health import BeatHealthCheck, beat_heartbeat_record
from omni.logs import (
    RequestIdFilter,
    request_id_var,
    task_postrun_clear_request_id,
    task_prerun_set_request_id,
    task_publish_add_request_id,
)
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ops-tests"}}
    from django.core.cache import cache

    cache.clear()
    return cache


def token_client(channel) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(channel)}")
    return client


def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_are_not_slowed(settings, local_cache):
    settings.OMNI_API_RATE = "3/m"
    first, second = token_client(ChannelFactory(code="web")), token_client(ChannelFactory(code="app"))
    assert [first.get("/api/v1/locations").status_code for _ in range(3)] == [200, 200, 200]
    res = first.get("/api/v1/locations")
    assert res.status_code == 429 and res.json()["error"]["code"] == "throttled"
    assert 1 <= int(res["Retry-After"]) <= 60
    assert second.get("/api/v1/locations").status_code == 200


def forget_windows(channel, *, period: int) -> str:
    """Delete the current window's counter of the channel's token (the test Redis outlives the test
    database, and an earlier run's token may have had the same id); its key."""
    import time

    from django.core.cache import cache

    from omni.access.models import PartnerToken

    key = f"omni:throttle:token:{PartnerToken.objects.get(channel=channel).pk}:{int(time.time() // period)}"
    cache.delete(key)
    return key


@pytest.mark.redis
def test_on_redis_a_window_is_counted_in_one_round_trip_and_expires(settings):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from omni.access.throttling import window_count

    backend = caches["default"]
    assert isinstance(backend, RedisCache)  # the test settings point the cache at the test Redis
    settings.OMNI_API_RATE = "3/m"
    channel = ChannelFactory(code="web")
    client = token_client(channel)
    forget_windows(channel, period=60)
    assert [client.get("/api/v1/locations").status_code for _ in range(3)] == [200, 200, 200]
    res = client.get("/api/v1/locations")
    assert res.status_code == 429 and res.json()["error"]["code"] == "throttled"
    assert 1 <= int(res["Retry-After"]) <= 60
    # The counter carries its expiry from the first call on (never a counter that lives forever).
    assert [window_count("omni:test-window", ttl=5) for _ in range(3)] == [1, 2, 3]
    redis = backend._cache.get_client(write=True)
    assert 0 < redis.ttl(backend.make_and_validate_key("omni:test-window")) <= 5


@pytest.fixture
def no_leases():
    from omni.access import throttling

    throttling._leases.clear()
    yield
    throttling._leases.clear()


@pytest.mark.redis
def test_a_high_rate_is_counted_a_lease_per_round_trip_and_never_lets_more_than_the_limit_through(no_leases):
    import time

    from django.core.cache import cache

    from omni.access.throttling import lease_size, window_allow, window_count

    assert lease_size(5000) == 10 and lease_size(3) == 1 and lease_size(10**6) == 50
    key, ends = f"omni:test-lease:{time.time_ns()}", time.time() + 60
    assert all(window_allow(key, limit=5000, ttl=60, ends_at=ends) for _ in range(25))
    assert cache.get(key) == 30  # 3 round trips (leases of 10) for 25 calls, not 25

    other = f"omni:test-lease-full:{time.time_ns()}"
    window_count(other, ttl=60, by=4995)  # other processes have let 4,995 calls through
    assert [window_allow(other, limit=5000, ttl=60, ends_at=ends) for _ in range(8)] == [True] * 5 + [False] * 3
    assert cache.get(other) == 5015  # the refused calls asked Redis once, not once each


@pytest.mark.redis
def test_leases_of_windows_that_have_turned_are_forgotten(no_leases):
    import time

    from omni.access import throttling

    turned = f"omni:test-turned:{time.time_ns()}"
    assert throttling.window_allow(turned, limit=5000, ttl=5, ends_at=time.time() - 0.001)
    throttling._next_prune = 0.0
    assert throttling.window_allow(f"omni:test-current:{time.time_ns()}", limit=5000, ttl=60, ends_at=time.time() + 60)
    assert turned not in throttling._leases  # a process serving many callers does not keep their old windows


@pytest.mark.redis
def test_a_token_at_a_high_rate_is_refused_at_its_limit_with_retry_after(settings, no_leases):
    from omni.access.throttling import window_count

    settings.OMNI_API_RATE = "5000/h"
    channel = ChannelFactory(code="web")
    client = token_client(channel)
    window_count(forget_windows(channel, period=3600), ttl=3601, by=4995)  # other processes have let 4,995 of this hour's calls through
    statuses = [client.get("/api/v1/locations").status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    res = client.get("/api/v1/locations")
    assert res.status_code == 429 and res.json()["error"]["code"] == "throttled"
    assert 1 <= int(res["Retry-After"]) <= 3600


def test_liveness_and_readiness_answer_json(client, local_cache):
    live = client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = client.get("/health/ready")
    checks = ready.json()["checks"]
    assert checks["database"] == "working" and checks["cache"] == "working"
    # With a broker configured, the worker and beat checks are there too (no worker runs in this test).
    healthy = all(v == "working" for v in checks.values())
    assert ready.status_code == (200 if healthy else 503)
    assert ready.json()["status"] == ("ok" if healthy else "unavailable")


def test_readiness_fails_when_beat_is_silent_or_the_outbox_lags(settings, local_cache):
    beat = BeatHealthCheck()
    beat.run_check()
    assert beat.errors and "beat" in str(beat.errors[0])
    beat_heartbeat_record()
    beat.run_check()
    assert not beat.errors

    settings.OMNI_HEALTH_OUTBOX_LAG_SECONDS = 60
    lag = OutboxLagHealthCheck()
    services.stock_receive(product=ProductFactory(sku="LAG"), location=LocationFactory(code="ST-L"), quantity=1)
    lag.run_check()
    assert not lag.errors
    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    lag.run_check()
    assert lag.errors and "old" in str(lag.errors[0])


def test_every_answer_carries_a_request_id_a_sane_one_is_kept(client):
    res = client.get("/health/live", HTTP_X_REQUEST_ID="shop-abc-123")
    assert res["X-Request-ID"] == "shop-abc-123"
    res = client.get("/health/live", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert res["X-Request-ID"] != "bad id\nwith newline" and len(res["X-Request-ID"]) == 32


def test_the_request_id_travels_into_the_tasks_a_request_publishes():
    token = request_id_var.set("req-42")
    try:
        headers: dict = {}
        task_publish_add_request_id(headers=headers)
        assert headers == {"request_id": "req-42"}
    finally:
        request_id_var.reset(token)

    class Task:
        class request:  # noqa: N801 - as Celery's task.request
            request_id = "req-42"

    task_prerun_set_request_id(task=Task)
    try:
        assert request_id_var.get() == "req-42"
    finally:
        task_postrun_clear_request_id()
    assert request_id_var.get() == "-"


def test_json_logs_carry_the_request_id():
    from pythonjsonlogger.json import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"))
    logger = logging.getLogger("omni.test.json")
    logger.addHandler(handler)
    token = request_id_var.set("req-7")
    try:
        logger.warning("stock import %s failed", 12)
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "stock import 12 failed" and line["request_id"] == "req-7" and line["levelname"] == "WARNING"


@pytest.mark.parametrize("path", ["/admin/login/", "/api/v1/docs/", "/health/live"])
def test_every_page_has_a_content_security_policy(client, path):
    res = client.get(path)
    assert res.status_code == 200
    policy = res["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    # Only the admin (its theme runs Alpine.js) may run inline and evaluated scripts.
    assert ("'unsafe-eval'" in policy) == path.startswith("/admin/")


def test_the_api_docs_load_swagger_ui_from_this_site_with_no_inline_script(client):
    html = client.get("/api/v1/docs/").content.decode()
    assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html
    assert "<script>" not in html
    merch = MerchandiserFactory(username="m")
    client.force_login(merch)
    assert client.get("/api/v1/docs/?script=").status_code == 200
