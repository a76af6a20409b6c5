"""The locks channel sync takes: row locks of the queried table only, and PostgreSQL session
advisory locks for single-flight work (one drain at a time, one pusher per channel). A session
lock outlives transactions, so the pusher holds it across a POST with no transaction open; the
server releases it if the connection dies."""

from __future__ import annotations

import logging

from django.db import connection

logger = logging.getLogger(__name__)


# Locks only the queried table's rows (``OF self``): a query joined to products (velocity class,
# active flag) must not lock Product rows, or every stock change of those SKUs (its outbox row
# takes a key-share lock on the product) would wait for the publish to commit. (The outbox rows
# themselves are taken, SKIP LOCKED, by inventory: ``inventory.outbox.outbox_take_pending``.)
def for_update(qs):
    if connection.features.has_select_for_update:
        return qs.select_for_update(of=("self",))
    return qs


DRAIN_LOCK = (0x5E7C, 0)  # (class, key) of the drain's session advisory lock
PUSH_LOCK_CLASS = 0x5E7C  # a channel's pusher locks (PUSH_LOCK_CLASS, channel id): ids start at 1, never the drain's 0


def session_lock(key: tuple[int, int]) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", list(key))
        return bool(cursor.fetchone()[0])


def session_unlock(key: tuple[int, int]) -> None:
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", list(key))
    except Exception:  # noqa: BLE001 - a broken connection has released its session locks already
        logger.warning("sync: could not release advisory lock %s (connection lost?); closing the connection", key)
        # A worker keeps its connection between tasks (omni/celery.py): one still alive would keep
        # the lock, and every other process's drain would find it busy. Closing it releases it.
        connection.close()
