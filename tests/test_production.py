"""Production mode refuses to start without a real secret key, and passes check --deploy."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROD = {
    "DJANGO_ENV": "production",
    "DATABASE_URL": "postgres://omni@db.internal:5432/omni",
    "DJANGO_ALLOWED_HOSTS": "omni.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("key", [None, "", "short-key", "omni-dev-insecure-secret-key-change-me", "a" * 60])
def test_production_refuses_to_start_without_a_real_secret_key(key):
    env = dict(PROD)
    if key is not None:
        env["DJANGO_SECRET_KEY"] = key
    result = manage("check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_database_url():
    env = {**PROD, "DJANGO_SECRET_KEY": secrets.token_urlsafe(60)}
    del env["DATABASE_URL"]
    result = manage("check", **env)
    assert result.returncode != 0 and "DATABASE_URL" in result.stderr


def test_check_deploy_is_clean_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PROD, DJANGO_SECRET_KEY=secrets.token_urlsafe(60))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_development_default_runs_with_nothing_set():
    result = manage("check")
    assert result.returncode == 0, result.stderr
