"""``python manage.py bench import [--rows N] [--baseline-rows N] [--locations N] --json``

Generates a snapshot stock file (one row per SKU × location over a generated catalogue of
``--locations`` locations) and loads the same rows three ways, in the same run:

- the fast path (what the imports worker runs: COPY → staging → set-based validation and apply,
  ledger movements, cycle counts and outbox written): ``rows_per_s``;
- the baseline: the first ``--baseline-rows`` rows of the same file through the plain
  django-import-export ``StockLevelResource`` with its bulk options on: ``baseline_rows_per_s``,
  ``ratio`` = fast / baseline;
- the limit: every row of the same file with a bare ``COPY`` of the file into a temporary table and
  one ``INSERT … ON CONFLICT DO UPDATE`` into the stock table (SKU and location codes resolved by
  a join; no validation, no ledger, no outbox): ``copy_rows_per_s``, ``ratio_to_copy`` = fast /
  limit. It runs before the fast path, in a transaction that is rolled back (and vacuumed away), so
  the fast path starts from the same state; its time includes the deferred constraint checks a
  commit would run.

Reports the peak RSS of the process and whether the ledger check holds afterwards.
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

from django.db import DatabaseError, connection, transaction

from omni.benchmarks.measure import load_average

NAME = "import"
HELP = "Stock CSV import: fast path vs the django-import-export resource, and vs a bare COPY + upsert (the limit)."


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the generated stock file (default 200000)")
    parser.add_argument("--baseline-rows", type=int, default=5_000, help="rows imported through the resource (default 5000)")
    parser.add_argument("--locations", type=int, default=40, help="locations of the generated catalogue (default 40)")
    parser.add_argument("--no-ledger-check", action="store_true", help="skip the (slow on huge tables) ledger check")
    parser.add_argument("--no-vacuum", action="store_true",
                        help="do not VACUUM the stock tables before the timed runs (autovacuum would have, in production)")
    parser.add_argument("--no-cycle-counts", action="store_true", help="snapshot without recording cycle counts")


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _catalogue(rows: int, n_locations: int, out: Callable[[str], None]) -> tuple[list[str], list[str]]:
    """SKU codes and location codes giving at least ``rows`` pairs."""
    from inventory.models import Location, LocationKind, Product

    locations = [f"BENCH-L{i:03d}" for i in range(max(n_locations, 1))]
    Location.objects.bulk_create([Location(code=c, name=f"Bench {c}", kind=LocationKind.STORE) for c in locations])
    skus = [f"BENCH-{i:07d}" for i in range(math.ceil(rows / len(locations)))]
    out(f"catalogue: {len(skus)} SKUs × {len(locations)} locations")
    Product.objects.bulk_create(
        [Product(sku=sku, name=f"Bench product {sku}", unit_cost=Decimal("1.00"), price=Decimal("2.00")) for sku in skus],
        batch_size=5000,
    )
    return skus, locations


def _write_file(path: str, skus: list[str], locations: list[str], rows: int, *, seed: int) -> None:
    rng = random.Random(seed)
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "location", "quantity"])
        for sku in skus:
            for loc in locations:
                if written == rows:
                    return
                w.writerow([sku, loc, rng.randint(0, 60)])
                written += 1


def _vacuum(out: Callable[[str], None]) -> bool:
    """Dead row versions would otherwise pile up where autovacuum is off (as on the shared benchmark
    machine); production runs autovacuum between imports. Then a checkpoint, where allowed."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:  # VACUUM cannot run in a transaction
        return False
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) inventory_stocklevel, inventory_stockmovement, inventory_cyclecount, "
                    "inventory_product, inventory_location")
        try:  # and write out what the previous path left dirty, so that the next one does not pay for it
            cur.execute("CHECKPOINT")
        except DatabaseError:
            pass  # needs a superuser or pg_checkpoint
    out(f"vacuum: {time.perf_counter() - started:.1f}s")
    return True


class _RolledBack(Exception):
    pass


_UPSERT = """
    INSERT INTO inventory_stocklevel (product_id, location_id, on_hand, reserved, damaged, quarantine, updated_at)
    SELECT p.id, l.id, b.qty, 0, 0, 0, now()
    FROM bench_bare_load b JOIN inventory_product p ON p.sku = b.sku JOIN inventory_location l ON l.code = b.loc
    ON CONFLICT (product_id, location_id) DO UPDATE SET on_hand = EXCLUDED.on_hand, updated_at = EXCLUDED.updated_at"""


def bare_load(path: str) -> tuple[int, float]:
    """The limit: COPY the file as it is into a temporary table, one upsert into the stock table, the
    deferred constraint checks a commit runs; then rolled back. Returns (stock rows written, seconds)."""
    if connection.vendor != "postgresql":
        return 0, 0.0
    written, seconds = 0, 0.0
    try:
        with transaction.atomic(), connection.cursor() as cur:
            started = time.perf_counter()
            cur.execute("CREATE TEMP TABLE bench_bare_load (sku text, loc text, qty integer) ON COMMIT DROP")
            with open(path, "rb") as fh, cur.copy("COPY bench_bare_load FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while block := fh.read(1 << 20):
                    copy.write(block)
            cur.execute(_UPSERT)
            written = cur.rowcount
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign-key checks a commit would run
            seconds = time.perf_counter() - started
            raise _RolledBack
    except _RolledBack:
        pass
    return written, seconds


def run(*, out: Callable[[str], None], rows: int = 200_000, baseline_rows: int = 5_000, locations: int = 40,
        no_ledger_check: bool = False, no_vacuum: bool = False, no_cycle_counts: bool = False, **_: object) -> dict:
    import tablib

    from inventory.imports.models import ImportStatus
    from inventory.imports.services import stock_import_create, stock_import_run
    from inventory.resources import BulkStockLevelResource
    from inventory.services import ledger_check

    if connection.vendor != "postgresql":
        out("warning: not on PostgreSQL; the fast path uses batched INSERTs instead of COPY, and the limit is not measured")
    baseline_rows = min(baseline_rows, rows)
    load_before = load_average()
    skus, locs = _catalogue(rows, locations, out)
    tmpdir = tempfile.mkdtemp(prefix="omni-bench-import-")
    path = os.path.join(tmpdir, "stock.csv")
    _write_file(path, skus, locs, rows, seed=20261126)
    out(f"file: {rows} rows, {os.path.getsize(path) / 1e6:.1f} MB")

    vacuumed = False if no_vacuum else _vacuum(out)
    # Baseline first: the first rows of the same file through the resource (bulk options on).
    with open(path, encoding="utf-8") as fh:
        head = [next(fh) for _ in range(baseline_rows + 1)]
    dataset = tablib.Dataset().load(io.StringIO("".join(head).replace("quantity", "on_hand", 1)), format="csv")
    started = time.perf_counter()
    result = BulkStockLevelResource().import_data(dataset, dry_run=False, raise_errors=True, use_transactions=True)
    base_seconds = time.perf_counter() - started
    base_rps = baseline_rows / base_seconds
    out(f"baseline (django-import-export, use_bulk): {baseline_rows} rows in {base_seconds:.2f}s "
        f"= {base_rps:,.0f} rows/s {dict(result.totals)}")

    # The limit: the whole file, bare COPY + upsert, rolled back.
    if vacuumed:
        _vacuum(out)
    copy_written, copy_seconds = bare_load(path)
    copy_rps = rows / copy_seconds if copy_seconds else None
    if copy_rps:
        out(f"limit (bare COPY + upsert, no validation, no ledger): {rows} rows in {copy_seconds:.2f}s = {copy_rps:,.0f} rows/s "
            f"({copy_written} stock rows written, then rolled back)")

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
    rows_per_s = job.rows_total / seconds
    out(f"fast path: {job.rows_total} rows in {seconds:.2f}s = {rows_per_s:,.0f} rows/s; "
        f"applied {job.rows_applied}, unchanged {job.rows_unchanged}, movements {job.movements_written}, outbox {job.outbox_events}")
    out(f"fast path vs baseline: {rows_per_s / base_rps:.1f}×" + (f"; vs the limit: {rows_per_s / copy_rps:.2f}" if copy_rps else ""))
    ledger_ok = None
    if not no_ledger_check:
        started = time.perf_counter()
        ledger_ok = ledger_check() == []
        out(f"ledger check: {'ok' if ledger_ok else 'MISMATCH'} ({time.perf_counter() - started:.1f}s)")
    os.remove(path)
    os.rmdir(tmpdir)
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
        "copy_rows": rows if copy_rps else 0,
        "copy_seconds": round(copy_seconds, 2) if copy_rps else None,
        "copy_rows_per_s": round(copy_rps) if copy_rps else None,
        "ratio_to_copy": round(rows_per_s / copy_rps, 2) if copy_rps else None,
        "peak_rss_mb": _peak_rss_mb(),
        "ledger_ok": ledger_ok,
        "database": connection.vendor,
        "vacuumed_before": vacuumed,
        "cycle_counts": not no_cycle_counts,
        "load_avg_1m": [load_before, load_average()],
    }
