"""What lets the suite run in several processes (pytest-xdist, ``make test`` runs ``-n``) and stay
fast without changing what any test checks.

- One migrated template database per run (``test_<name>_template``, on PostgreSQL): the controller
  migrates it once, before the workers start; each worker's test database (``test_<name>_gwN``)
  is then a ``CREATE DATABASE … TEMPLATE`` copy of it (Django's ``TEST["TEMPLATE"]``) instead of
  a migration from zero per worker, and ``bench`` runs in the tests clone the same template
  (``tests/benchmarks/conftest.py``). The controller drops it at the end.
- One Redis per worker: a private ``redis-server`` on a free port when the binary is installed
  (else the next database numbers of ``REDIS_URL``), so that one worker's cache entries, sync
  wake-up keys and key listings never meet another's.

Without ``-n`` (a targeted ``pytest tests/<area>``) nothing here happens.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

TEMPLATE_KEY = "omni_db_template"  # workerinput key: the template the worker's test database is cloned from
TEMPLATE_ENV = "OMNI_TEST_DB_TEMPLATE"  # the same, for fixtures (the bench template)
_TEMPLATE = pytest.StashKey[str]()
_REDIS = pytest.StashKey[tuple]()


def is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config) -> bool:
    """The process that hands tests to xdist workers (it runs none itself)."""
    return not is_worker(config) and bool(getattr(config.option, "numprocesses", None)) and not getattr(
        config.option, "collectonly", False)


def _test_database_settings():
    from django.conf import settings

    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        return None, None
    test_name = (db.get("TEST") or {}).get("NAME") or f"test_{db['NAME']}"
    return db, f"{test_name}_template"[:63]


def create_template(config) -> None:
    """Controller: migrate the template database the workers' test databases are cloned from."""
    from omni.benchmarks import scratch

    db, name = _test_database_settings()
    if db is None:
        return
    with scratch.pg_admin(db) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env["DATABASE_URL"] = scratch.pg_url(db, name)
    base = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, str(base / "manage.py"), "migrate", "--noinput", "-v0"], env=env, cwd=base,
                   check=True)
    config.stash[_TEMPLATE] = name
    os.environ[TEMPLATE_ENV] = name


def drop_template(config) -> None:
    from omni.benchmarks import scratch

    name = config.stash.get(_TEMPLATE, None)
    if name:
        db, _ = _test_database_settings()
        with scratch.pg_admin(db) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        os.environ.pop(TEMPLATE_ENV, None)


def configure_node(config, node) -> None:
    name = config.stash.get(_TEMPLATE, None)
    if name:
        node.workerinput[TEMPLATE_KEY] = name


def use_template(config) -> None:
    """Worker: clone the test database from the controller's template (before it is created)."""
    name = config.workerinput.get(TEMPLATE_KEY)
    if name:
        from django.conf import settings

        settings.DATABASES["default"].setdefault("TEST", {})["TEMPLATE"] = name
        os.environ[TEMPLATE_ENV] = name


def _worker_index(config) -> int:
    return int(config.workerinput["workerid"].removeprefix("gw"))


def isolate_redis(config) -> None:
    """Worker: a Redis of its own (see the module docstring)."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return
    if shutil.which("redis-server"):
        from tests.harness.processes import RedisServer

        workdir = Path(tempfile.mkdtemp(prefix=f"omni-test-redis-{config.workerinput['workerid']}-"))
        server = RedisServer(workdir)
        server.start()
        config.stash[_REDIS] = (server, workdir)
        atexit.register(stop_redis, config)  # also when the worker ends without unconfigure
        url = server.url
    else:
        parsed = urlparse(url)
        base = int((parsed.path or "/0").lstrip("/") or 0)
        url = urlunparse(parsed._replace(path=f"/{(base + 1 + _worker_index(config)) % 16}"))
    _point_at_redis(url)


def _point_at_redis(url: str) -> None:
    from django.conf import settings
    from django.test.signals import setting_changed

    from omni.celery import app

    os.environ["REDIS_URL"] = os.environ["CELERY_BROKER_URL"] = url
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    setting_changed.send(sender=None, setting="CACHES", value=settings.CACHES, enter=True)
    app.conf.broker_url = url


def stop_redis(config) -> None:
    server, workdir = config.stash.get(_REDIS, (None, None))
    if server is not None:
        del config.stash[_REDIS]
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
