"""Structured logs with a request id that follows a request into its Celery tasks.

``RequestIdMiddleware`` takes the caller's ``X-Request-ID`` (when it is a sane token) or makes one,
keeps it in a context variable for the request, and answers it in ``X-Request-ID``. Every log record
carries it (``RequestIdFilter``); a task published while handling the request carries it in its
headers and its worker logs under the same id (``omni/celery.py`` connects the signals below).
``LOG_FORMAT=json`` (the default in production) writes one JSON object per line.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("omni_request_id", default="-")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
HEADER = "X-Request-ID"
_META_KEY = "HTTP_" + HEADER.upper().replace("-", "_")


def current_request_id() -> str:
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # the header as the WSGI server hands it over (``request.headers`` would build the mapping
        # of every header, for this one)
        given = request.META.get(_META_KEY, "")
        request_id = given if _SANE.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request_id
        return response


# --- Celery: the id travels in the task's headers --------------------------------------------


def task_publish_add_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is not None and "request_id" not in headers:
        request_id = request_id_var.get()
        if request_id != "-":
            headers["request_id"] = request_id


def task_prerun_set_request_id(task: Any = None, **kwargs: Any) -> None:
    request_id = getattr(getattr(task, "request", None), "request_id", None) or "-"
    request_id_var.set(str(request_id))


def task_postrun_clear_request_id(**kwargs: Any) -> None:
    request_id_var.set("-")
