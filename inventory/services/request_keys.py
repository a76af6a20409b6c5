"""The stock API's idempotency keys (``StockRequestKey``, per caller): kept for replay for
``OMNI_IDEMPOTENCY_KEEP_DAYS``, then forgotten by a nightly beat job."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from omni.idempotency import idempotency_records_prune

from ..models import StockRequestKey


def stock_request_keys_prune(*, now: datetime | None = None) -> int:
    """Forget the callers' keys older than ``OMNI_IDEMPOTENCY_KEEP_DAYS``; how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OMNI_IDEMPOTENCY_KEEP_DAYS)
    return idempotency_records_prune(model=StockRequestKey, older_than=cutoff)
