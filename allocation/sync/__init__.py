"""Channel sync: the outbox drain, channel adapters (webhook push, delta feed, snapshot CSV),
inbound stock snapshots and reconciliation alerts.

``kick`` is the outbox hook (``settings.OMNI_OUTBOX_HOOK = "allocation.sync.kick"``): inventory
calls it after every commit that wrote outbox rows. It only wakes a drain; it never fails the
request, and the periodic sweep catches whatever a lost wake-up left behind.
"""

from __future__ import annotations


def kick() -> None:
    from .trigger import drain_wake

    drain_wake()
