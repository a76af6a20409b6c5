"""Idempotent intake: the same ``Idempotency-Key`` and body get the same answer, however often.

Orders' keys are the channel's (``IdempotencyRecord``: one row per channel and key); the mechanism
is ``omni.idempotency`` (shared with inventory's stock endpoints). A refused order's lost sales are
written once, after the handler's savepoint rolled back (``lost_sales_deferred``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from allocation.models import Channel
from omni.errors import OmniError
from omni.idempotency import IdempotentAnswer, idempotency_records_prune, idempotent_run, request_fingerprint
from orders.models import IdempotencyRecord

from .lost_sales import lost_sales_deferred, lost_sales_write

__all__ = ["IdempotentAnswer", "idempotency_keys_prune", "idempotent_call", "request_fingerprint"]


def idempotent_call(
    *, channel: Channel, key: str, body: Any, handler: Callable[[], tuple[int, Any]],
    error_body: Callable[[OmniError], Any], handler_is_atomic: bool = False,
) -> IdempotentAnswer:
    """Run ``handler`` once per (channel, key); later calls with the same body get its answer.

    ``handler_is_atomic``: the handler undoes its own writes on an ``OmniError`` (order intake runs
    in its own savepoint), so no second savepoint is nested around it. An intake refusal's lost
    sales are deferred while the handler runs and written once the refusal is final, in the
    transaction that stores the key's answer: a replay runs no handler and writes nothing."""
    return idempotent_run(model=IdempotencyRecord, scope={"channel": channel}, key=key, body=body, handler=handler,
                          error_body=error_body, on_refusal=lost_sales_write, handler_is_atomic=handler_is_atomic,
                          around=lost_sales_deferred)


def idempotency_keys_prune(*, now: datetime | None = None) -> int:
    """Forget the channels' keys older than ``OMNI_IDEMPOTENCY_KEEP_DAYS`` (nightly beat job)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OMNI_IDEMPOTENCY_KEEP_DAYS)
    return idempotency_records_prune(model=IdempotencyRecord, older_than=cutoff)
