"""The stock outbox: every stock change names the SKU(s) it touched, in its own transaction.

Inventory knows nothing of channels. After commit it calls the hook named by the setting
``OMNI_OUTBOX_HOOK`` (a dotted path to a callable taking no arguments), which the sync side
uses to wake its drain. If the hook fails or no worker runs, the rows stay and the next drain
(or the periodic sweep) picks them up: nothing committed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from .models import OutboxEvent

logger = logging.getLogger(__name__)


def outbox_record(*, product_ids: Iterable[int], reason: str, location_id: int | None = None) -> None:
    rows = [OutboxEvent(product_id=pid, location_id=location_id, reason=reason) for pid in dict.fromkeys(product_ids)]
    if not rows:
        return
    OutboxEvent.objects.bulk_create(rows)
    transaction.on_commit(outbox_kick)


def outbox_kick() -> None:
    hook_path = getattr(settings, "OMNI_OUTBOX_HOOK", "")
    if not hook_path:
        return
    try:
        import_string(hook_path)()
    except Exception:  # the outbox row is committed; the sweep will catch up
        logger.exception("outbox hook %s failed; pending events stay in the outbox", hook_path)
