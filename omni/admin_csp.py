"""The Content-Security-Policy exceptions of two pages that run third-party code from installed
packages (imports no app).

- The admin (django-unfold): its Alpine.js evaluates the ``x-*`` attributes with ``new Function``,
  so admin pages, and only they, allow ``'unsafe-eval'`` in ``script-src`` (still no script from
  elsewhere, no inline script).
- ReDoc (drf-spectacular): its page starts ReDoc from an inline script and ReDoc runs its search in
  a ``blob:`` worker.

Listed right after ``csp.middleware.CSPMiddleware`` so that it marks the response before the
policy header is written."""

from __future__ import annotations

from collections.abc import Callable

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
