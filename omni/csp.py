"""The admin's script policy. Every page gets the Content-Security-Policy of
``CONTENT_SECURITY_POLICY`` (django-csp): scripts from this site only. The admin's theme
(django-unfold) runs Alpine.js, which evaluates its attribute expressions and ships inline
scripts, so admin pages add ``'unsafe-inline' 'unsafe-eval'`` to ``script-src`` — the rest of the
policy (no framing, no plugins, same-origin forms and connections) holds there too."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase

ADMIN_PREFIX = "/admin/"
ADMIN_SCRIPTS = {"script-src": ["'unsafe-inline'", "'unsafe-eval'"]}


class AdminScriptPolicyMiddleware:
    """Listed after ``csp.middleware.CSPMiddleware``, so that its mark is on the response when the
    policy is built."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith(ADMIN_PREFIX) and getattr(response, "_csp_update", None) is None:
            response._csp_update = ADMIN_SCRIPTS  # type: ignore[attr-defined]
        return response
