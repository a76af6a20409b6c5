"""The scratch environment a benchmark runs in, so that it never reads or writes the user's data.

``scratch_environment(label=…)`` creates, for one ``bench`` run:

- a database of its own: on PostgreSQL a new database ``omni_scratch_<label>_<pid>_<random>`` on the
  server of the current connection (cloned from ``$OMNI_BENCH_TEMPLATE``, a migrated and otherwise
  empty database, when that is set; else empty and migrated by the run), on SQLite a file in a
  temporary directory (copied from ``$OMNI_BENCH_TEMPLATE`` when set);
- a private ``redis-server`` on a free port when the binary is installed (the broker and cache of
  the run: wake-ups and queued tasks never reach the user's Redis); without one the run is in
  embedded mode (no broker, Celery eager);
- a temporary directory for uploaded files (``MEDIA_ROOT``) and the run's own temporary files
  (``TMPDIR``).

It yields the environment a child process needs to use them, and removes all of it on exit (the
database is dropped with ``WITH (FORCE)``) unless ``keep`` is set.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

PREFIX = "omni_scratch_"
TEMPLATE_ENV = "OMNI_BENCH_TEMPLATE"  # a migrated, empty database (PostgreSQL name, or SQLite file) to clone
SCRATCH_ENV = "OMNI_BENCH_SCRATCH"  # set for the child: the database it may run in
_LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options", "target_session_attrs")
_NAME = re.compile(r"^[A-Za-z0-9_]{1,63}$")


@dataclass
class Scratch:
    vendor: str  # "postgresql" or "sqlite"
    database: str  # the database name (PostgreSQL) or file (SQLite)
    display_url: str  # where it is, for people (no password)
    workdir: Path
    cloned_from: str | None = None
    broker: str = "none"  # "private redis-server" or "none (embedded mode)"
    env: dict[str, str | None] = field(default_factory=dict)  # for the child; None unsets a variable

    def child_environ(self, base: Mapping[str, str]) -> dict[str, str]:
        merged = {**base, **{k: v for k, v in self.env.items() if v is not None}}
        return {k: v for k, v in merged.items() if self.env.get(k, "") is not None}


def is_scratch(settings_dict: Mapping[str, Any]) -> bool:
    """True in the child a ``bench`` started: the current database is the scratch one it names."""
    expected = os.environ.get(SCRATCH_ENV, "")
    return bool(expected) and str(settings_dict.get("NAME", "")) == expected


def _vendor(settings_dict: Mapping[str, Any]) -> str:
    engine = settings_dict["ENGINE"]
    if engine.endswith("postgresql"):
        return "postgresql"
    if engine.endswith("sqlite3"):
        return "sqlite"
    raise RuntimeError(f"bench supports PostgreSQL and SQLite, not {engine}")


def pg_admin(settings_dict: Mapping[str, Any]):
    """An autocommit connection to the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    import psycopg

    options = settings_dict.get("OPTIONS") or {}
    params = {k: options[k] for k in _LIBPQ_OPTIONS if options.get(k) not in (None, "")}
    return psycopg.connect(
        host=settings_dict.get("HOST") or "127.0.0.1", port=str(settings_dict.get("PORT") or 5432),
        user=settings_dict.get("USER") or None, password=settings_dict.get("PASSWORD") or None, dbname="postgres",
        autocommit=True, **params,
    )


def pg_url(settings_dict: Mapping[str, Any], name: str, *, with_password: bool = True) -> str:
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password and with_password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    options = settings_dict.get("OPTIONS") or {}
    query = urlencode({k: options[k] for k in _LIBPQ_OPTIONS if options.get(k) not in (None, "")})
    return f"postgres://{auth}{host}:{settings_dict.get('PORT') or 5432}/{name}" + (f"?{query}" if query else "")


def _create_database(settings_dict: Mapping[str, Any], label: str, workdir: Path, template: str | None) -> Scratch:
    vendor = _vendor(settings_dict)
    if vendor == "sqlite":
        path = workdir / "bench.sqlite3"
        if template:
            shutil.copyfile(template, path)
        return Scratch(vendor=vendor, database=str(path), display_url=f"sqlite:///{path}", workdir=workdir,
                       cloned_from=template, env={"DATABASE_URL": None, "SQLITE_PATH": str(path)})
    name = f"{PREFIX}{re.sub(r'[^a-z0-9]', '', label.lower())[:20]}_{os.getpid()}_{secrets.token_hex(3)}"
    if template and not _NAME.match(template):
        raise RuntimeError(f"{TEMPLATE_ENV}={template!r} is not a database name")
    with pg_admin(settings_dict) as admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return Scratch(vendor=vendor, database=name, display_url=pg_url(settings_dict, name, with_password=False),
                   workdir=workdir, cloned_from=template, env={"DATABASE_URL": pg_url(settings_dict, name)})


def _drop_database(settings_dict: Mapping[str, Any], scratch: Scratch) -> None:
    if scratch.vendor == "postgresql":
        with pg_admin(settings_dict) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)')


@contextmanager
def scratch_environment(*, settings_dict: Mapping[str, Any], label: str, keep: bool = False) -> Iterator[Scratch]:
    workdir = Path(tempfile.mkdtemp(prefix=f"omni-bench-{label}-{os.getpid()}-"))
    scratch: Scratch | None = None
    redis = None
    try:
        scratch = _create_database(settings_dict, label, workdir, os.environ.get(TEMPLATE_ENV) or None)
        scratch.env.update({SCRATCH_ENV: scratch.database, "MEDIA_ROOT": str(workdir / "media"), "TMPDIR": str(workdir),
                            "PYTHONUNBUFFERED": "1"})
        if shutil.which("redis-server"):
            from tests.harness.processes import RedisServer  # developer tool, run from the repository

            redis = RedisServer(workdir)
            redis.start()
            scratch.broker = f"private redis-server :{redis.port}"
            scratch.env.update({"REDIS_URL": redis.url, "CELERY_BROKER_URL": redis.url, "CELERY_TASK_ALWAYS_EAGER": None})
        else:
            scratch.env.update({"REDIS_URL": None, "CELERY_BROKER_URL": None, "CELERY_TASK_ALWAYS_EAGER": None})
        yield scratch
    finally:
        if redis is not None:
            redis.stop()
        if scratch is not None and not keep:
            _drop_database(settings_dict, scratch)
        if not (keep and scratch is not None and scratch.vendor == "sqlite"):  # a kept SQLite database lives there
            shutil.rmtree(workdir, ignore_errors=True)
