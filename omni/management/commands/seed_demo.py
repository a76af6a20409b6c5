"""python manage.py seed_demo --seed N [--if-empty] [--reset] [--stores N --skus N --days N]"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from omni.demo.seed import demo_logins, has_demo_data, seed_demo


class Command(BaseCommand):
    help = "Build a believable demo retailer (locations, catalogue, stock, 90 days of sales, channels, users), deterministically."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42, help="Random seed: the same seed builds the same retailer.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when locations or products exist.")
        parser.add_argument("--reset", action="store_true", help="Flush the WHOLE database first (asks no questions).")
        parser.add_argument("--stores", type=int, default=40, help="Number of stores (1–40).")
        parser.add_argument("--skus", type=int, default=2000, help="Number of SKUs.")
        parser.add_argument("--days", type=int, default=90, help="Days of sales history.")

    def handle(self, *args, seed: int, if_empty: bool, reset: bool, stores: int, skus: int, days: int, **options):
        if reset:
            call_command("flush", interactive=False, verbosity=0)
            self.stdout.write("Database flushed.")
        elif has_demo_data():
            if if_empty:
                self.stdout.write("Demo data already present: nothing to do.")
                self._print_logins(seed)
                return
            raise CommandError("The database already holds data: use --reset to rebuild it, or --if-empty to keep it.")
        began = time.monotonic()
        summary = seed_demo(seed=seed, stores=stores, skus=skus, days=days)
        self.stdout.write(self.style.SUCCESS(
            f"Seeded (seed {summary.seed}) in {time.monotonic() - began:.1f}s: {summary.locations} locations "
            f"({summary.stores} stores), {summary.products} SKUs, {summary.stock_levels} stock rows, "
            f"{summary.movements} ledger movements over {days} days, {summary.channels} channels, "
            f"{summary.safety_stock_policies} safety-stock policies, {summary.live_orders} orders open or handled today."
        ))
        self._print_logins(seed)

    def _print_logins(self, seed: int) -> None:
        info = demo_logins(seed)
        site = settings.OMNI_SITE_URL.rstrip("/")
        self.stdout.write(
            "\n".join([
                "",
                f"  Admin:          {site}/admin/   user {info['admin_user']!r}  password {info['admin_password']!r}",
                f"  Store staff:    {site}/   user {info['staff_user']!r}  password {info['staff_password']!r}  (store {info['staff_store']})",
                f"  Store manager:  {site}/   user {info['manager_user']!r}  password {info['staff_password']!r}  (stores {info['manager_stores']})",
                f"  API docs:       {site}/api/v1/docs/   (schema: {site}/api/v1/schema/)",
                f"  Web shop token: {info['web_key'] or '(not found)'}",
                f"  POS token:      {info['pos_key'] or '(not found)'}  (stock read/write at {info['staff_store']} only)",
                f"  Try:            curl -H 'Authorization: Token {info['web_key']}' {site}/api/v1/stock-levels/?location=DC-GEB",
                "",
            ])
        )
