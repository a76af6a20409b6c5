"""The stock outbox: every stock change names the SKU(s) it touched, in its own transaction.

Inventory owns the rows from write to delete: the sync side drains them only through
``outbox_take_pending`` / ``outbox_pending_exists`` / ``outbox_prune`` below. Inventory knows
nothing of channels. After commit it calls the hook named by the setting
``OMNI_OUTBOX_HOOK`` (a dotted path to a callable taking no arguments), which the sync side
uses to wake its drain. If the hook fails or no worker runs, the rows stay and the next drain
(or the periodic sweep) picks them up: nothing committed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from omni.prepared import execute_prepared

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


def outbox_take_pending(*, limit: int) -> list[tuple[int, datetime]]:
    """Take up to ``limit`` unprocessed rows, oldest first, and mark them processed, in the
    caller's transaction: ``(product_id, created_at)`` of each. Rows another drain holds are
    skipped (``FOR UPDATE SKIP LOCKED``, this table's rows only), so two drains never take the same
    row; if the caller's transaction rolls back, the rows are pending again and nothing is lost."""
    if connection.vendor == "postgresql":
        # One statement where a locking read and an update took two (every drain runs it).
        # A named prepared statement (planned once per connection: every drain runs it).
        table = OutboxEvent._meta.db_table
        with connection.cursor() as cursor:
            execute_prepared(
                cursor,
                f"UPDATE {table} AS o SET processed_at = %s FROM (SELECT id FROM {table} WHERE processed_at IS NULL "  # noqa: S608
                f"ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) AS p WHERE o.id = p.id RETURNING o.id, o.product_id, o.created_at",
                [timezone.now(), limit], prefix="omni_outbox_",
            )
            taken = sorted(cursor.fetchall())  # RETURNING has no order: oldest first, as documented
        return [(product_id, created_at) for _, product_id, created_at in taken]
    pending = OutboxEvent.objects.filter(processed_at__isnull=True).order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        pending = pending.select_for_update(skip_locked=True, of=("self",))
    rows = list(pending.values_list("id", "product_id", "created_at")[:limit])
    if rows:
        OutboxEvent.objects.filter(id__in=[row[0] for row in rows]).update(processed_at=timezone.now())
    return [(product_id, created_at) for _, product_id, created_at in rows]


def outbox_pending_exists() -> bool:
    if connection.vendor == "postgresql":  # every drain asks, after releasing its lock: planned once per connection
        with connection.cursor() as cursor:
            execute_prepared(cursor, f"SELECT EXISTS (SELECT 1 FROM {OutboxEvent._meta.db_table} WHERE processed_at IS NULL)",  # noqa: S608
                             [], prefix="omni_outbox_")
            return bool(cursor.fetchone()[0])
    return OutboxEvent.objects.filter(processed_at__isnull=True).exists()


def outbox_prune(*, processed_before: datetime) -> int:
    """Delete rows processed before the cutoff (pending rows always stay); returns how many."""
    deleted, _ = OutboxEvent.objects.filter(processed_at__lt=processed_before).delete()
    return deleted
