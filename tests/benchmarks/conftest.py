"""One migrated, empty template database per test session, so that each ``bench`` run in the tests
clones it (``$OMNI_BENCH_TEMPLATE``) instead of migrating a new scratch database from zero. Under
pytest-xdist that is the run's template, which the workers' test databases are cloned from too
(``tests/parallel.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from omni.benchmarks import scratch
from tests import parallel


@pytest.fixture(scope="session")
def bench_template():
    shared = os.environ.get(parallel.TEMPLATE_ENV)
    if shared and connection.vendor == "postgresql":
        previous = os.environ.get(scratch.TEMPLATE_ENV)
        os.environ[scratch.TEMPLATE_ENV] = shared
        yield shared
        if previous is None:
            os.environ.pop(scratch.TEMPLATE_ENV, None)
        else:
            os.environ[scratch.TEMPLATE_ENV] = previous
        return
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    workdir = Path(tempfile.mkdtemp(prefix="omni-bench-template-"))
    settings_dict = dict(connection.settings_dict)
    if connection.vendor == "postgresql":
        name = f"{scratch.PREFIX}tpl_{os.getpid()}"
        with scratch.pg_admin(settings_dict) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = scratch.pg_url(settings_dict, name)
    else:
        name = str(workdir / "template.sqlite3")
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = name
    previous = os.environ.get(scratch.TEMPLATE_ENV)
    try:
        subprocess.run([sys.executable, str(settings.BASE_DIR / "manage.py"), "migrate", "--noinput", "-v0"],
                       env=env, cwd=settings.BASE_DIR, check=True)
        os.environ[scratch.TEMPLATE_ENV] = name
        yield name
    finally:
        if previous is None:
            os.environ.pop(scratch.TEMPLATE_ENV, None)
        else:
            os.environ[scratch.TEMPLATE_ENV] = previous
        if connection.vendor == "postgresql":
            with scratch.pg_admin(settings_dict) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _redis_without_expiring_keys():
    """The bench tests compare every Redis key before and after a run. Earlier tests leave cache
    entries that expire on their own (API throttle counters, one minute), which could vanish
    mid-run and look like the bench deleted them: start from an empty cache, with one key that
    never expires, so that a bench deleting the user's keys is still seen."""
    if not settings.REDIS_URL:
        yield
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1)
    try:
        client.flushdb()
        client.set("omni:test:user-key", b"kept")
    except redis.RedisError:  # no Redis: the tests compare nothing there
        yield
        return
    yield
    client.delete("omni:test:user-key")
