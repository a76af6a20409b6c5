"""Idempotent intake: the same ``Idempotency-Key`` and body get the same answer, however often.

Orders' keys are the channel's (``IdempotencyRecord``: one row per channel and key); the mechanism
is ``omni.idempotency`` (shared with inventory's stock endpoints). A refused order's lost sales are
written again after the handler's savepoint rolled them back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allocation.models import Channel
from omni.errors import OmniError
from omni.idempotency import IdempotentAnswer, idempotent_run, request_fingerprint
from orders.models import IdempotencyRecord

from .lost_sales import lost_sales_ensure

__all__ = ["IdempotentAnswer", "idempotent_call", "request_fingerprint"]


def idempotent_call(
    *, channel: Channel, key: str, body: Any, handler: Callable[[], tuple[int, Any]],
    error_body: Callable[[OmniError], Any],
) -> IdempotentAnswer:
    """Run ``handler`` once per (channel, key); later calls with the same body get its answer."""
    return idempotent_run(model=IdempotencyRecord, scope={"channel": channel}, key=key, body=body, handler=handler,
                          error_body=error_body, on_refusal=lost_sales_ensure)
