"""omni/middleware.py's message middleware: the storage made on first use, and every response the
same as with Django's own middleware (messages added, read, left unread, none at all)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import messages
from django.contrib.messages import middleware as django_middleware
from django.contrib.messages.storage.base import BaseStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import checks
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject, empty

from omni.middleware import MessageMiddleware

pytestmark = pytest.mark.django_db


def _add(request: Any) -> HttpResponse:
    messages.success(request, "Saved.")
    messages.warning(request, "Ünïcode ✓ and a \"quote\"")
    return HttpResponse("added")


def _read(request: Any) -> HttpResponse:
    return HttpResponse(" | ".join(str(m) for m in messages.get_messages(request)))


def _read_and_add(request: Any) -> HttpResponse:
    seen = [str(m) for m in messages.get_messages(request)]
    messages.info(request, f"after {len(seen)}")
    return HttpResponse(",".join(seen))


def _nothing(request: Any) -> HttpResponse:
    return HttpResponse("{}", content_type="application/json")


def _count(request: Any) -> HttpResponse:
    storage = messages.get_messages(request)
    return HttpResponse(f"{len(storage)} {bool(storage)} {isinstance(storage, BaseStorage)}")


def _served(middleware_class: type, view: Callable[[Any], HttpResponse], cookie: str | None) -> tuple[HttpResponse, Any]:
    request = RequestFactory().get("/store/")
    if cookie is not None:
        request.COOKIES["messages"] = cookie
    handler = SessionMiddleware(middleware_class(view))
    response = handler(request)
    return response, request


def _answer(response: HttpResponse) -> tuple[Any, ...]:
    cookies = {name: (morsel.value, dict(morsel)) for name, morsel in response.cookies.items()
               if name == "messages"}
    return response.status_code, response.content, dict(response.headers), cookies


@pytest.mark.parametrize("view", [_add, _read, _read_and_add, _nothing, _count])
def test_every_response_is_the_one_djangos_middleware_gives(view):
    # a first request (no messages cookie), then one that carries the cookie it set
    ours, theirs = _served(MessageMiddleware, view, None)[0], _served(django_middleware.MessageMiddleware, view, None)[0]
    assert _answer(ours) == _answer(theirs)
    cookie = _served(django_middleware.MessageMiddleware, _add, None)[0].cookies["messages"].value
    for next_view in (view, _read, _nothing):
        ours = _served(MessageMiddleware, next_view, cookie)[0]
        theirs = _served(django_middleware.MessageMiddleware, next_view, cookie)[0]
        assert _answer(ours) == _answer(theirs), (view.__name__, next_view.__name__)


def test_a_request_that_never_uses_messages_makes_no_storage():
    response, request = _served(MessageMiddleware, _nothing, None)
    lazy = request.__dict__["_messages"]
    assert type(lazy) is SimpleLazyObject and lazy._wrapped is empty  # the attributes the middleware reads
    assert "messages" not in response.cookies
    _, used = _served(MessageMiddleware, _add, None)
    assert used.__dict__["_messages"]._wrapped is not empty


def test_the_admin_check_accepts_it():
    assert not [e for e in checks.run_checks() if e.id in ("admin.E409", "messages.E001")]
