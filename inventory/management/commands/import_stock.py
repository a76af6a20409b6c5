"""``python manage.py import_stock FILE [--mode snapshot|delta] [--location CODE] [--apply-valid]``

Runs the same import path as the admin and the API (in this process, with a terminal progress
bar) and prints the summary; exits non-zero when the file was refused or the job failed.
"""

from __future__ import annotations

import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from inventory.imports.models import ImportJob, ImportStatus
from inventory.imports.selectors import import_errors_csv
from inventory.imports.services import stock_import_create, stock_import_run
from omni.errors import OmniError


class Command(BaseCommand):
    help = "Import a stock CSV (sku, location, quantity[, note]) through the fast path."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--mode", choices=["snapshot", "delta"], default="snapshot")
        parser.add_argument("--location", default="", help="location code for every row (the file may then omit it)")
        parser.add_argument("--apply-valid", action="store_true", help="apply the valid rows even if some rows are wrong")
        parser.add_argument("--note", default="", help="reason recorded on delta adjustments")
        parser.add_argument("--errors-csv", default="", help="write the errors to this CSV file")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, file: str, mode: str, location: str, apply_valid: bool, note: str, errors_csv: str,
               no_progress: bool, **options):
        if not os.path.isfile(file):
            raise CommandError(f"No such file: {file}")
        show = not no_progress and options.get("verbosity", 1) > 0
        try:
            with open(file, "rb") as fh:
                job = stock_import_create(file=fh, filename=os.path.basename(file), mode=mode, location_code=location,
                                          apply_valid=apply_valid, note=note, source="command", enqueue=False)
        except OmniError as exc:
            raise CommandError(exc.message) from exc
        job = stock_import_run(job_id=job.pk, progress=self._bar if show else None)
        if show:
            sys.stderr.write("\n")
        self._report(job, errors_csv)
        if job.status != ImportStatus.DONE:
            raise CommandError(job.failure or f"Import #{job.pk} {job.status}.")

    _last = 0.0

    def _bar(self, job: ImportJob) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and not job.is_finished:
            return
        self._last = now
        pct = job.percent
        width = 30
        filled = int(width * pct / 100)
        left = job.seconds_left
        eta = f"{left:.0f}s left" if left is not None else "…"
        total = f"{job.rows_estimated:,}" if job.rows_estimated else "?"
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {pct:5.1f}%  {job.rows_done:,}/{total} rows  "
            f"{job.rows_per_s:,.0f} rows/s  {eta}  {job.phase:<36}"
        )
        sys.stderr.flush()

    def _report(self, job: ImportJob, errors_csv: str) -> None:
        w = self.stdout.write
        w(f"Import #{job.pk}: {job.status} ({job.mode}), {job.rows_total} rows in {job.elapsed_seconds:.1f}s "
          f"({job.rows_per_s:,.0f} rows/s)")
        w(f"  applied {job.rows_applied}, unchanged {job.rows_unchanged}, skipped {job.rows_skipped}, "
          f"movements {job.movements_written}, outbox events {job.outbox_events}, errors {job.error_count}")
        if job.failure:
            w(f"  {job.failure}")
        for error in job.errors[:20]:
            col = error["column"] or "-"
            num = error["column_number"] or "-"
            w(f"  line {error['line']}, column {col} ({num}): [{error['code']}] {error['message']}")
        if job.error_count > 20:
            w(f"  … {job.error_count - 20} more")
        if errors_csv and job.error_count:
            with open(errors_csv, "w", encoding="utf-8", newline="") as fh:
                for chunk in import_errors_csv(job=job):
                    fh.write(chunk)
            w(f"  errors written to {errors_csv}")
