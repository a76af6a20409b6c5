"""The Content-Security-Policy exceptions of two pages that run third-party code from installed
packages (imports no app).

- The admin (django-unfold): its Alpine.js evaluates the ``x-*`` attributes with ``new Function``,
  so admin pages, and only they, allow ``'unsafe-eval'`` in ``script-src`` (still no script from
  elsewhere, no inline script).
- ReDoc (drf-spectacular): its page starts ReDoc from an inline script and ReDoc runs its search in
  a ``blob:`` worker.

Listed right after ``CSPMiddleware`` so that it marks the response before the policy header is
written.

``CSPMiddleware`` is django-csp's, the policy built once per process: a response that asks for
nothing of its own (no ``_csp_*`` attribute, no nonce used) gets the same header every time, and
django-csp built it anew on every request (a deep copy of its parts, every directive copied and
joined: 0.04–0.05 ms of CPU, on every API call). Anything else is django-csp's own path; a change
of the settings (``override_settings``) forgets the built policies."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as _DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponseBase

ADMIN_PREFIX = "/admin/"
REDOC_PATH = "/api/v1/redoc/"


class PageScriptPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith(ADMIN_PREFIX):
            response._csp_update = {"script-src": ["'unsafe-eval'"]}  # type: ignore[attr-defined]
        elif request.path == REDOC_PATH:
            response._csp_update = {"script-src": ["'unsafe-inline'"], "worker-src": ["blob:"]}  # type: ignore[attr-defined]
        return response


# what a response may carry to change its policy (django-csp's decorators and this module)
_OWN_POLICY = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_SETTINGS = {"report_only": "CONTENT_SECURITY_POLICY_REPORT_ONLY", "enforced": "CONTENT_SECURITY_POLICY"}
_BUILT: dict[str, str] = {}  # "enforced" / "report_only" → the settings' policy, built


def _settings_policy(kind: str) -> str:
    policy = _BUILT.get(kind)
    if policy is None:
        policy = _BUILT[kind] = build_policy(report_only=kind == "report_only")
    return policy


def _forget_built(*, setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS.values():
        _BUILT.clear()


setting_changed.connect(_forget_built, dispatch_uid="omni.admin_csp.forget_built")


class CSPMiddleware(_DjangoCSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
                getattr(response, name, None) is not None for name in _OWN_POLICY):
            return super().process_response(request, response)
        # django-csp's steps, with the settings' policies built once
        if response.status_code in (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND) and settings.DEBUG:
            return response
        for kind, header, exempt in (("enforced", HEADER, "_csp_exempt"), ("report_only", HEADER_REPORT_ONLY, "_csp_exempt_ro")):
            policy = _settings_policy(kind)
            if not policy or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, _SETTINGS[kind], None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        setattr(request, "csp_nonce", CheckableLazyObject(self._csp_nonce_post_response))
        return response
