"""python manage.py check_ledger: prove on_hand == sum(movements) (and reserved == open reservations)
for every stock row, and that every open reservation still has a live owner. Lists every problem and
exits non-zero when there is any."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.models import StockLevel
from inventory.services import ledger_check


class Command(BaseCommand):
    help = ("Reconcile every stock row with the stock ledger and every open reservation with its owner; "
            "exit 1 and list each problem when any.")

    def handle(self, *args, **options):
        rows = ledger_check()
        checked = StockLevel.objects.count()
        if not rows:
            self.stdout.write(self.style.SUCCESS(f"Ledger OK: {checked} stock rows agree with their movements and reservations."))
            return
        self.stdout.write(f"{'stock row':>10}  {'sku':<20} {'location':<14} {'field':<11} {'recorded':>9} {'ledger':>9} {'diff':>7}")
        drift = [d for d in rows if not d.is_orphan]
        orphans = [d for d in rows if d.is_orphan]
        for d in drift:
            self.stdout.write(
                f"{d.stock_level_id:>10}  {d.sku:<20} {d.location:<14} {d.field:<11} {d.recorded:>9} {d.expected:>9} {d.recorded - d.expected:>+7}"
            )
        if orphans:
            self.stdout.write("Open reservations whose owner is gone or closed (they hold units nobody will use):")
            for d in orphans:
                self.stdout.write(f"  reservation {d.reservation_id}  {d.reference}  {d.sku} @ {d.location}: {d.recorded} units")
        parts = []
        if drift:
            parts.append(f"{len(drift)} discrepancies on {len({d.stock_level_id for d in drift})} of {checked} stock rows")
        if orphans:
            parts.append(f"{len(orphans)} orphan reservation(s) holding {sum(d.recorded for d in orphans)} units")
        raise CommandError(f"Ledger drift: {'; '.join(parts)}.", returncode=1)
