"""``python manage.py bench import [--rows N] [--baseline-rows N] --json``

Generates a snapshot stock file (one row per SKU × location over the demo catalogue, or over a
generated bench catalogue of ``--locations`` locations when the demo one is too small), imports
it through the fast path (COPY → staging → set-based apply, ledger and outbox written), and in
the same run imports the first ``--baseline-rows`` rows of the same file through the plain
django-import-export ``StockLevelResource`` with its bulk options on. Reports rows/s of both,
their ratio, the peak RSS of the process and whether the ledger check holds afterwards.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import resource
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal

from django.db import connection

NAME = "import"
HELP = "Stock CSV import: fast path (COPY + set-based apply) vs the django-import-export resource."


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the generated stock file (default 200000)")
    parser.add_argument("--baseline-rows", type=int, default=5_000, help="rows imported through the resource (default 5000)")
    parser.add_argument("--locations", type=int, default=40, help="locations of the generated catalogue (default 40)")
    parser.add_argument("--no-ledger-check", action="store_true", help="skip the (slow on huge tables) ledger check")
    parser.add_argument("--no-vacuum", action="store_true",
                        help="do not VACUUM the stock tables before the timed run (autovacuum would have, in production)")
    parser.add_argument("--no-cycle-counts", action="store_true", help="snapshot without recording cycle counts")


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _catalogue(rows: int, n_locations: int, out: Callable[[str], None]) -> tuple[list[str], list[str]]:
    """SKU codes and location codes giving at least ``rows`` pairs."""
    from inventory.models import Location, LocationKind, Product

    locations = list(Location.objects.filter(is_active=True).order_by("code").values_list("code", flat=True))
    skus_needed = math.ceil(rows / max(len(locations), 1)) if locations else 0
    if not locations or Product.objects.count() < skus_needed or len(locations) < 2:
        locations = [f"BENCH-L{i:03d}" for i in range(n_locations)]
        Location.objects.bulk_create(
            [Location(code=c, name=f"Bench {c}", kind=LocationKind.STORE) for c in locations], ignore_conflicts=True
        )
        Location.objects.filter(code__in=locations).update(is_active=True)
        skus_needed = math.ceil(rows / len(locations))
        out(f"catalogue: generating {skus_needed} SKUs × {len(locations)} locations")
        batch: list[Product] = []
        for i in range(skus_needed):
            batch.append(Product(sku=f"BENCH-{i:07d}", name=f"Bench product {i}", unit_cost=Decimal("1.00"), price=Decimal("2.00")))
            if len(batch) == 5000:
                Product.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        Product.objects.bulk_create(batch, ignore_conflicts=True)
        skus = [f"BENCH-{i:07d}" for i in range(skus_needed)]
    else:
        skus = list(Product.objects.order_by("sku").values_list("sku", flat=True)[:skus_needed])
    return skus, locations


def _write_file(path: str, skus: list[str], locations: list[str], rows: int, *, reserved: dict[tuple[str, str], int],
                seed: int) -> None:
    rng = random.Random(seed)  # a new seed per run, so that a re-run on the same database changes stock again
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "location", "quantity"])
        for sku in skus:
            for loc in locations:
                if written == rows:
                    return
                floor = reserved.get((sku, loc), 0)
                w.writerow([sku, loc, max(rng.randint(0, 60), floor)])
                written += 1


def _vacuum(out: Callable[[str], None]) -> bool:
    """Dead row versions from earlier runs would otherwise pile up where autovacuum is off (as on
    the shared benchmark machine); production runs autovacuum between imports."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:  # VACUUM cannot run in a transaction
        return False
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) inventory_stocklevel, inventory_stockmovement, inventory_cyclecount, "
                    "inventory_product, inventory_location")
    out(f"vacuum: {time.perf_counter() - started:.1f}s")
    return True


def run(*, out: Callable[[str], None], rows: int = 200_000, baseline_rows: int = 5_000, locations: int = 40,
        no_ledger_check: bool = False, no_vacuum: bool = False, no_cycle_counts: bool = False, **_: object) -> dict:
    import tablib

    from inventory.imports.models import ImportJob, ImportStatus
    from inventory.imports.services import stock_import_create, stock_import_run
    from inventory.models import StockLevel
    from inventory.resources import BulkStockLevelResource
    from inventory.services import ledger_check

    if connection.vendor != "postgresql":
        out("warning: not on PostgreSQL; the fast path uses batched INSERTs instead of COPY")
    skus, locs = _catalogue(rows, locations, out)
    # A count may not go below what is reserved: the generated figures respect each row's reserved units.
    reserved = {
        (sku, loc): qty for sku, loc, qty in StockLevel.objects.filter(reserved__gt=0)
        .values_list("product__sku", "location__code", "reserved")
    }
    tmpdir = tempfile.mkdtemp(prefix="omni-bench-import-")
    path = os.path.join(tmpdir, "stock.csv")
    existing = StockLevel.objects.count()
    _write_file(path, skus, locs, rows, reserved=reserved, seed=20261126 + ImportJob.objects.count())
    out(f"file: {rows} rows, {os.path.getsize(path) / 1e6:.1f} MB; {existing} stock rows exist before the run")

    vacuumed = False if no_vacuum else _vacuum(out)
    # Baseline first: the first rows of the same file through the resource (bulk options on).
    with open(path, encoding="utf-8") as fh:
        head = [next(fh) for _ in range(baseline_rows + 1)]
    dataset = tablib.Dataset().load(io.StringIO("".join(head).replace("quantity", "on_hand", 1)), format="csv")
    started = time.perf_counter()
    result = BulkStockLevelResource().import_data(dataset, dry_run=False, raise_errors=True, use_transactions=True)
    base_seconds = time.perf_counter() - started
    base_totals = dict(result.totals)
    out(f"baseline (django-import-export, use_bulk): {baseline_rows} rows in {base_seconds:.2f}s "
        f"= {baseline_rows / base_seconds:,.0f} rows/s {base_totals}")

    # The fast path, in-process (what the imports worker runs).
    with open(path, "rb") as fh:
        job = stock_import_create(file=fh, filename="bench-stock.csv", mode="snapshot", source="bench", enqueue=False)
    if vacuumed:
        _vacuum(out)
    started = time.perf_counter()
    job = stock_import_run(job_id=job.pk, record_counts=not no_cycle_counts)
    seconds = time.perf_counter() - started
    if job.status != ImportStatus.DONE:
        raise RuntimeError(f"fast path import failed: {job.failure} {job.errors[:5]}")
    out(f"fast path: {job.rows_total} rows in {seconds:.2f}s = {job.rows_total / seconds:,.0f} rows/s; "
        f"applied {job.rows_applied}, unchanged {job.rows_unchanged}, movements {job.movements_written}, outbox {job.outbox_events}")
    ledger_ok = None
    if not no_ledger_check:
        started = time.perf_counter()
        ledger_ok = ledger_check() == []
        out(f"ledger check: {'ok' if ledger_ok else 'MISMATCH'} ({time.perf_counter() - started:.1f}s)")
    os.remove(path)
    os.rmdir(tmpdir)
    job.file.delete(save=True)  # the stored copy of the generated upload
    ImportJob.objects.filter(pk=job.pk).update(errors=[])
    rows_per_s = job.rows_total / seconds
    base_rps = baseline_rows / base_seconds
    return {
        "rows": job.rows_total,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows_per_s),
        "movements_written": job.movements_written,
        "outbox_events": job.outbox_events,
        "baseline_rows": baseline_rows,
        "baseline_seconds": round(base_seconds, 2),
        "baseline_rows_per_s": round(base_rps),
        "ratio": round(rows_per_s / base_rps, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "ledger_ok": ledger_ok,
        "database": connection.vendor,
        "stock_rows_before": existing,
        "vacuumed_before": vacuumed,
        "cycle_counts": not no_cycle_counts,
    }
