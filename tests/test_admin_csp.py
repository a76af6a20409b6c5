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


def test_the_policy_built_once_is_django_csps_and_follows_the_settings(client, settings):
    # omni.admin_csp.CSPMiddleware keeps the settings' policy built: the header is django-csp's own,
    # a response that asks for its own policy still gets it, and a change of the settings shows at once.
    from csp.constants import NONCE
    from csp.utils import build_policy
    from django.http import HttpResponse
    from django.test import RequestFactory

    from omni.admin_csp import CSPMiddleware

    first, again = client.get("/health/live"), client.get("/login/")
    assert first["Content-Security-Policy"] == again["Content-Security-Policy"] == build_policy()
    assert "Content-Security-Policy-Report-Only" not in first
    assert _script_src(client.get("/admin/login/")) == "script-src 'self' 'unsafe-eval'"  # its own policy, after the cached one

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"], "script-src": ["'self'", NONCE]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    changed = client.get("/health/live")
    assert changed["Content-Security-Policy"] in ("default-src 'none'; script-src 'self'", "script-src 'self'; default-src 'none'")
    assert changed["Content-Security-Policy-Report-Only"] == "default-src 'self'"
    # a nonce used while answering goes into the header (django-csp's own path)
    request = RequestFactory().get("/health/live")
    middleware = CSPMiddleware(lambda r: HttpResponse(str(r.csp_nonce)))
    middleware.process_request(request)
    response = middleware.process_response(request, middleware.get_response(request))
    assert f"script-src 'self' 'nonce-{response.content.decode()}'" in response["Content-Security-Policy"]
