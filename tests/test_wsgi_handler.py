"""omni/wsgi.py's handler keeps each path's URL match: the same match as Django's own resolving,
each request a copy of its own, and Django's handler still resolving through ``resolve_request``
(the method it overrides: an upgrade that stops calling it fails here)."""

from __future__ import annotations

import gc
import importlib
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory, override_settings
from django.urls import Resolver404, path, set_urlconf

from omni.wsgi import OmniWSGIHandler

gc.unfreeze()  # importing omni.wsgi froze this test process's objects, as a web process's

PATHS = [
    "/api/v1/orders", "/api/v1/orders/12", "/api/v1/orders/12/cancel", "/api/v1/orders/7/lines/2/pin",
    "/api/v1/orders/9/returns", "/api/v1/holds", "/api/v1/holds/abc-1", "/api/v1/schema/", "/api/v1/docs/",
    "/api/v1/redoc/", "/health/live", "/health/ready", "/admin/", "/admin/login/", "/admin/orders/order/",
    "/admin/orders/order/5/change/", "/i18n/setlang/", "/", "/api/v1/orders/12/", "/api/v1/orders/-1",
    "/api/v1/nothing-here", "/no/such/page", "/admin/orders/order/x/y/z/",
]


def _request(url: str) -> Any:
    return RequestFactory().get(url)


def _resolved(handler: WSGIHandler, url: str) -> Any:
    try:
        return handler.resolve_request(_request(url))
    except Resolver404 as exc:
        return ("404", str(exc))


def _fields(match: Any) -> Any:
    return match if isinstance(match, tuple) else dict(match.__dict__)


def test_the_kept_match_is_djangos_match_for_every_path():
    django_handler, omni_handler = WSGIHandler(), OmniWSGIHandler()
    for _ in range(3):  # the first round resolves, the next ones answer what was kept
        for url in PATHS:
            ours, theirs = _resolved(omni_handler, url), _resolved(django_handler, url)
            assert _fields(ours) == _fields(theirs), url
            assert type(ours) is type(theirs)
    assert _resolved(omni_handler, "/api/v1/nothing-here")[0] == "404"  # resolved each time, never kept
    assert all(path_ != "/api/v1/nothing-here" for _, path_ in omni_handler._matches)


def test_each_request_gets_a_match_of_its_own():
    handler = OmniWSGIHandler()
    first_request = _request("/api/v1/orders/12")
    first = handler.resolve_request(first_request)
    assert first_request.resolver_match is first
    first.kwargs["pk"] = 99
    first.app_names.append("changed")
    second = handler.resolve_request(_request("/api/v1/orders/12"))
    assert second is not first and second.kwargs == {"pk": 12} and "changed" not in second.app_names
    assert second.func is first.func


def test_a_request_with_its_own_urlconf_and_a_changed_root_urlconf_are_djangos():
    handler = OmniWSGIHandler()
    handler.resolve_request(_request("/health/live"))
    with override_settings(ROOT_URLCONF=__name__):  # another configuration: not the kept match
        assert handler.resolve_request(_request("/health/live")).url_name == "only-here"
    request = _request("/health/live")
    request.urlconf = __name__
    try:
        assert handler.resolve_request(request).url_name == "only-here"
    finally:
        # Django's handler sets a request's own urlconf for the thread and resets it when the
        # request finishes (``request_finished``): this request never finishes, so reset it here,
        # or every later test in this process reverses against this module's patterns
        set_urlconf(None)
    assert handler.resolve_request(_request("/health/live")).url_name == "health-live"


def test_the_kept_matches_are_bounded():
    handler = OmniWSGIHandler()
    for i in range(handler.MAX_KEPT + 10):
        handler.resolve_request(_request(f"/api/v1/orders/{i}"))
    assert len(handler._matches) <= handler.MAX_KEPT
    long = "/api/v1/orders/" + "1" * handler.MAX_PATH
    assert handler.resolve_request(_request(long)).kwargs == {"pk": int("1" * handler.MAX_PATH)}
    assert all(path_ != long for _, path_ in handler._matches)


@pytest.mark.django_db
def test_djangos_handler_resolves_through_resolve_request(monkeypatch):
    # the override works only while Django's ``_get_response`` asks ``self.resolve_request``
    calls: list[str] = []
    original = OmniWSGIHandler.resolve_request

    def spy(self, request):
        calls.append(request.path_info)
        return original(self, request)

    monkeypatch.setattr(OmniWSGIHandler, "resolve_request", spy)
    handler = OmniWSGIHandler()
    environ = RequestFactory()._base_environ(PATH_INFO="/health/live", REQUEST_METHOD="GET")
    statuses: list[str] = []
    body = b"".join(handler(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert calls == ["/health/live"] and statuses[0].startswith("200") and body


def test_the_application_is_the_keeping_handler():
    wsgi = importlib.import_module("omni.wsgi")
    gc.unfreeze()
    assert isinstance(wsgi.application, OmniWSGIHandler)


def _only_here(request):  # pragma: no cover - resolved, never called
    raise AssertionError


urlpatterns = [path("health/live", _only_here, name="only-here")]
