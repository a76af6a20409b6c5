"""Raising alerts, and the nightly ledger check that raises one on drift."""

from __future__ import annotations

import logging
from typing import Any

from inventory.services import ledger_check

from .models import Alert

logger = logging.getLogger(__name__)


def alert_raise(*, kind: str, message: str, details: Any = None) -> Alert:
    """Record something a merchandiser must look at (admin: Inventory → Alerts)."""
    return Alert.objects.create(kind=kind[:32], message=message[:255], details=details if details is not None else [])


def ledger_alert_check() -> int:
    """The nightly job: run ``ledger_check``; on drift raise an Alert (admin) and log an error."""
    discrepancies = ledger_check()
    if not discrepancies:
        return 0
    details = [
        {"stock_level": d.stock_level_id, "sku": d.sku, "location": d.location, "field": d.field,
         "recorded": d.recorded, "ledger": d.expected}
        for d in discrepancies[:500]
    ]
    message = f"Ledger drift: {len(discrepancies)} stock figure(s) disagree with the ledger, e.g. {discrepancies[0]}"
    alert_raise(kind="ledger_drift", message=message, details=details)
    logger.error(message)
    return len(discrepancies)
