"""The Content-Security-Policy's two exceptions stay narrow: the admin (its theme's Alpine.js) may
evaluate expressions but still runs no inline or foreign script; ReDoc may start from its inline
script; every other page keeps the strict policy."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _script_src(res) -> str:
    return next(d for d in res["Content-Security-Policy"].split(";") if d.strip().startswith("script-src")).strip()


def test_only_the_admin_may_evaluate_and_only_redoc_may_run_its_inline_script(client):
    assert _script_src(client.get("/admin/login/")) == "script-src 'self' 'unsafe-eval'"
    assert _script_src(client.get("/api/v1/redoc/")) == "script-src 'self' 'unsafe-inline'"
    assert _script_src(client.get("/api/v1/docs/")) == "script-src 'self'"
    assert _script_src(client.get("/health/live")) == "script-src 'self'"
    assert _script_src(client.get("/login/")) == "script-src 'self'"  # the store staff's sign-in
