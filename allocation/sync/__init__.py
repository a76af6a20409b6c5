"""Channel sync: the outbox drain (``drain``), publishing per channel (``publish``), the webhook
push (``push``, ``webhook``), the delta feed and the snapshot file (``feed``), latency (``latency``).

Flow (see ARCHITECTURE.md "Change flows out through an outbox"):

1. ``sync_outbox_drain`` takes pending outbox rows through inventory (``outbox_take_pending``:
   ``SELECT … FOR UPDATE SKIP LOCKED``, so two drains never take the same rows, marked processed),
   and marks each touched (channel, SKU) *dirty since* the oldest change's commit — one
   transaction, so a crash loses nothing.
2. ``sync_channel_publish`` takes a channel's dirty SKUs whose coalescing window has closed,
   recomputes their ATP with one ``atp_for_channel`` call, and for every figure that differs from
   the last published one writes a ``SyncMessage`` with the next sequence number for that
   (channel, SKU). A burst of changes to one SKU inside the window becomes one message.
3. ``sync_channel_push`` POSTs a channel's pending messages, in order, as one signed body. A 2xx
   acknowledges them (and records latency); a transient failure leaves them pending with a backoff;
   after ``max_attempts`` (or a permanent 4xx) they are dead-lettered for the admin to resend.

Velocity: on a near-real-time or real-time channel every SKU goes out when its window closes. On a
batch channel only SKUs of ``realtime_velocity_classes`` (default A: fast movers, where a stale figure
oversells soonest) go out near-real-time; B and C SKUs stay dirty until the channel's batch run.

``kick`` is the outbox hook (``settings.OMNI_OUTBOX_HOOK = "allocation.sync.kick"``): inventory
calls it after every commit that wrote outbox rows. It only wakes a drain; it never fails the
request, and the periodic sweep catches whatever a lost wake-up left behind.
"""

from __future__ import annotations


def kick() -> None:
    from .trigger import drain_wake

    drain_wake()
