"""Reads over import jobs: the progress/result document (API and admin polling) and the
errors as CSV rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from omni.csv import csv_stream

from .models import ImportJob

ERROR_COLUMNS = ("line", "column", "column_number", "value", "code", "message")


def import_job_progress(*, job: ImportJob, errors_limit: int = 50) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "finished": job.is_finished,
        "phase": job.phase,
        "mode": job.mode,
        "file": job.original_name,
        "location": job.location.code if job.location is not None else None,
        "apply_valid": job.apply_valid,
        "percent": job.percent,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total or None,
        "rows_estimated": job.rows_estimated or None,
        "rows_per_s": job.rows_per_s,
        "seconds_elapsed": round(job.elapsed_seconds, 1),
        "seconds_left": job.seconds_left,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "cancel_requested": job.cancel_requested,
        "result": {
            "rows_applied": job.rows_applied,
            "rows_unchanged": job.rows_unchanged,
            "rows_skipped": job.rows_skipped,
            "movements_written": job.movements_written,
            "outbox_events": job.outbox_events,
            "error_count": job.error_count,
        },
        "failure": job.failure,
        "errors": job.errors[:errors_limit],
        "errors_truncated": job.error_count > min(len(job.errors), errors_limit),
    }


def import_errors_csv(*, job: ImportJob) -> Iterator[str]:
    """The job's errors as CSV text chunks: line, column, column_number, value, code, message."""

    def rows() -> Iterator[list[Any]]:
        for error in job.errors:
            yield [error.get(c) for c in ERROR_COLUMNS]
        if job.error_count > len(job.errors):
            yield ["", "", "", "", "truncated", f"{job.error_count - len(job.errors)} more errors not stored."]

    return csv_stream(header=ERROR_COLUMNS, rows=rows())
