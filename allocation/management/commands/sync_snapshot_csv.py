"""``python manage.py sync_snapshot_csv --channel web [--output file.csv]``: the full availability
file of a channel (for marketplaces that take feeds), streamed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from allocation.models import Channel
from allocation.sync.feed import availability_snapshot_csv


class Command(BaseCommand):
    help = "Write a channel's full availability CSV (sku,name,available)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, help="channel code")
        parser.add_argument("--output", default="-", help="file path, or - for stdout")

    def handle(self, *args, channel: str, output: str, **options):
        found = Channel.objects.filter(code=channel).first()
        if found is None:
            raise CommandError(f"No channel {channel!r}.")
        if output == "-":
            for chunk in availability_snapshot_csv(channel=found):
                self.stdout.write(chunk, ending="")
            return
        with open(output, "w", newline="", encoding="utf-8") as stream:
            for chunk in availability_snapshot_csv(channel=found):
                stream.write(chunk)
