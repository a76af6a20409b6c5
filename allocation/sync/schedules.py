"""Beat entries for channel sync (part of ``allocation/schedules.py``, which omni/celery.py collects;
one beat process runs them all).

- sweep: catches anything a lost wake-up, a killed worker or a down broker left in the outbox or
  in the push queue (every OMNI_SYNC_SWEEP_SECONDS, default 30 s);
- batch: every minute, publishes each batch channel whose own ``sync_interval_seconds`` elapsed;
- full resync: nightly, every channel's full figure set where it differs (safety net);
- prune: nightly, delivered messages and processed outbox rows past retention.
"""

from __future__ import annotations

import os

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "sync-sweep": {
        "task": "allocation.sync.tasks.sync_sweep",
        "schedule": float(os.environ.get("OMNI_SYNC_SWEEP_SECONDS", "30")),
        "options": {"expires": 60},
    },
    "sync-batch": {
        "task": "allocation.sync.tasks.sync_batch",
        "schedule": float(os.environ.get("OMNI_SYNC_BATCH_TICK_SECONDS", "60")),
        "options": {"expires": 120},
    },
    "sync-full-resync-nightly": {
        "task": "allocation.sync.tasks.sync_full_resync",
        "schedule": crontab(hour=3, minute=0),
    },
    "sync-prune-nightly": {
        "task": "allocation.sync.tasks.sync_prune",
        "schedule": crontab(hour=3, minute=30),
    },
}
