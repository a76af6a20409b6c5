"""python manage.py check_ledger: prove on_hand == sum(movements) (and reserved == open reservations)
for every stock row. Lists every broken row and exits non-zero when there is any."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.models import StockLevel
from inventory.services import ledger_check


class Command(BaseCommand):
    help = "Reconcile every stock row with the stock ledger; exit 1 and list each discrepancy when any."

    def handle(self, *args, **options):
        rows = ledger_check()
        checked = StockLevel.objects.count()
        if not rows:
            self.stdout.write(self.style.SUCCESS(f"Ledger OK: {checked} stock rows agree with their movements and reservations."))
            return
        self.stdout.write(f"{'stock row':>10}  {'sku':<20} {'location':<14} {'field':<11} {'recorded':>9} {'ledger':>9} {'diff':>7}")
        for d in rows:
            self.stdout.write(
                f"{d.stock_level_id:>10}  {d.sku:<20} {d.location:<14} {d.field:<11} {d.recorded:>9} {d.expected:>9} {d.recorded - d.expected:>+7}"
            )
        broken = len({d.stock_level_id for d in rows})
        raise CommandError(f"Ledger drift: {len(rows)} discrepancies on {broken} of {checked} stock rows.", returncode=1)
