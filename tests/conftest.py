"""Test-wide setup.

- Tests marked ``postgres`` need PostgreSQL, ``redis`` a reachable Redis. Without them they
  skip and say so; under ``CI=true`` a missing service fails the run instead.
- Celery runs eagerly in unit tests; integration tests start a real worker process.
- Under pytest-xdist (``make test`` runs ``-n``) each worker clones its test database from one
  migrated template and has a Redis of its own: see ``tests/parallel.py``.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

from tests import parallel

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config):
    if parallel.is_controller(config):
        parallel.create_template(config)
    elif parallel.is_worker(config):
        parallel.use_template(config)
        parallel.isolate_redis(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    parallel.configure_node(node.config, node)


def pytest_unconfigure(config):
    parallel.drop_template(config)
    parallel.stop_redis(config)


def _redis_reachable() -> bool:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return False
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config, items):
    missing = []
    have_pg, have_redis = _on_postgres(), _redis_reachable()
    for item in items:
        if item.get_closest_marker("postgres") and not have_pg:
            missing.append("PostgreSQL (set DATABASE_URL)")
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if item.get_closest_marker("redis") and not have_redis:
            missing.append("Redis (set REDIS_URL)")
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))
    if missing and IN_CI:
        raise pytest.UsageError(f"CI=true but {', '.join(sorted(set(missing)))} is not available.")


def pytest_report_header(config):
    return [f"omni: database={settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, redis={'yes' if _redis_reachable() else 'no'}"]


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    from omni.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create many users; the production hasher's work factor would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    """The per-caller rate limit keeps counters in the shared cache (Redis); tests that are about
    it (tests/test_operations.py) set ``OMNI_API_RATE`` themselves."""
    settings.OMNI_API_RATE = ""


@pytest.fixture(autouse=True)
def _config_caches_cleared():
    """The per-process configuration caches (``omni.config_cache``) hold rows of the database: a
    rolled-back test's routing profiles, locations and SLAs must not reach the next test."""
    from omni.config_cache import clear_all

    clear_all()
    yield
    clear_all()
