"""``python manage.py sync_drain [--full]``: drain the outbox, publish and push once, in-process.
For the embedded (eager, no broker) mode and for operators; a running worker does this itself."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from allocation.sync.drain import sync_drain_run, sync_sweep
from allocation.sync.publish import sync_full_resync
from allocation.sync.push import sync_channel_push


class Command(BaseCommand):
    help = "Drain the stock outbox and push pending channel updates now."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="also publish every SKU whose figure differs (full resync)")

    def handle(self, *args, full: bool = False, **options):
        run = sync_drain_run()
        if full:
            sync_full_resync()
        swept = sync_sweep()
        sent = dead = failed = 0
        for channel_id in swept.pushed_channels:
            result = sync_channel_push(channel_id=channel_id)
            sent, dead, failed = sent + result.sent, dead + result.dead, failed + result.failed
        self.stdout.write(f"drained {run.events + swept.drained} outbox row(s); pushed {sent}, failed {failed}, dead-lettered {dead}")
