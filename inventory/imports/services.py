"""Stock import jobs: create (store the upload, enqueue), run (read → stage → check → apply),
cancel. Every entry point (admin, API, management command, Celery task) calls these."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from inventory.selectors import location_get_by_code
from inventory.outbox import outbox_kick
from omni.errors import Forbidden, IllegalTransition, ValidationFailed
from omni.limits import without_control_characters
from omni.transitions import TransitionTable, transition_check, transition_update

from .apply import StockChangedMeanwhile, stage_apply
from .models import (
    FINISHED_STATUSES,
    PHASE_APPLYING,
    PHASE_CHECKING,
    PHASE_READING,
    ImportJob,
    ImportMode,
    ImportStatus,
)
from .parsing import FatalFileError, RowError, StockFileReader
from .staging import StageTables, stage_create, stage_drop, stage_errors, stage_load, stage_validate

logger = logging.getLogger(__name__)

CHUNK_ROWS = 20_000

ProgressCallback = Callable[[ImportJob], None]

# A job interrupted mid-run (worker lost) is claimed again from validating or applying: it starts over.
IMPORT_TRANSITIONS = TransitionTable(ImportStatus, {
    ImportStatus.QUEUED: {ImportStatus.VALIDATING, ImportStatus.CANCELLED},
    ImportStatus.VALIDATING: {ImportStatus.VALIDATING, ImportStatus.APPLYING, ImportStatus.FAILED, ImportStatus.CANCELLED},
    ImportStatus.APPLYING: {ImportStatus.VALIDATING, ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED},
    ImportStatus.DONE: set(),
    ImportStatus.FAILED: set(),
    ImportStatus.CANCELLED: set(),
})


def _move(job: ImportJob, to: str) -> None:
    """Check the move from the job's status as stored (not as this process last saw it) and set it;
    the caller saves."""
    current = ImportJob.objects.values_list("status", flat=True).get(pk=job.pk)
    transition_check(table=IMPORT_TRANSITIONS, current=current, to=to, what=f"Import #{job.pk}")
    job.status = to


class ImportCancelled(Exception):
    pass


class _AlreadyApplied(Exception):
    pass


def stock_import_create(
    *, file: File | BinaryIO, mode: str = ImportMode.SNAPSHOT, location_code: str = "", apply_valid: bool = False,
    note: str = "", source: str = "import", actor: Any = None, filename: str = "", enqueue: bool = True,
    location_ids: frozenset[int] | None = None,
) -> ImportJob:
    """Store the upload and queue its import on the ``imports`` queue (after commit).

    ``location_ids``: the locations the caller may import to (resolved by the API/admin adapter
    from who it is; ``None``: any). A caller limited to some locations must name one of them (its
    rows then all go there)."""
    if mode not in ImportMode.values:
        raise ValidationFailed(f"Unknown import mode {mode!r}; use snapshot or delta.", code="invalid_mode",
                               details={"mode": [f"One of {', '.join(ImportMode.values)}."]})
    location = location_get_by_code(code=location_code.strip()) if location_code else None
    if location_ids is not None:
        if location is None:
            raise Forbidden("You may import stock only for your own locations: give a location.",
                            code="permission_denied", details={"location": ["Required for this caller."]})
        if location.pk not in location_ids:
            raise Forbidden(f"You may not import stock at {location.code}.", code="permission_denied",
                            details={"location": ["Not one of your locations."]})
    if location is not None:
        if not location.is_active:
            raise ValidationFailed(f"Location {location.code} is inactive.", code="inactive_location", details={"location": ["Inactive."]})
    if file is None:
        raise ValidationFailed("No file was uploaded.", code="file_required", details={"file": ["Required."]})
    django_file = file if isinstance(file, File) else File(file)
    name = os.path.basename(filename or getattr(django_file, "name", "") or "stock.csv")
    with transaction.atomic():
        job = ImportJob(
            mode=mode, location=location, apply_valid=bool(apply_valid), note=(note or "").strip()[:255],
            source=(source or "import")[:64], original_name=name[:255],
            created_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        )
        job.file.save(name, django_file, save=False)
        job.bytes_total = job.file.size
        job.save()
        if enqueue:
            from inventory.tasks import import_stock_run

            job_id = job.pk
            transaction.on_commit(lambda: import_stock_run.delay(job_id))
    return job


RUNNING_STATUSES = (ImportStatus.VALIDATING, ImportStatus.APPLYING)


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.OMNI_IMPORT_STALE_SECONDS)


def _silent(now: datetime):
    """Running jobs whose worker has given no sign of life for ``OMNI_IMPORT_STALE_SECONDS``."""
    from django.db.models import Q

    before = _stale_before(now)
    return ImportJob.objects.filter(status__in=RUNNING_STATUSES).filter(
        Q(heartbeat_at__lt=before) | Q(heartbeat_at__isnull=True, started_at__lt=before)
    )


def stock_import_cancel(*, job: ImportJob, now: datetime | None = None) -> ImportJob:
    """Stop a job in any phase; it changes nothing. A queued job, or a running one whose worker is
    gone (silent for ``OMNI_IMPORT_STALE_SECONDS``), is cancelled at once; a running job stops at its
    next check (between chunks, between phases, or before its apply commits). Cancelling a cancelled
    job confirms it (nothing changes); a job that is done or failed can no longer be cancelled."""
    if job.status == ImportStatus.CANCELLED:
        return job
    if job.is_finished:
        raise IllegalTransition(f"Import #{job.pk} is already {job.status}.", code="import_finished")
    now = now or timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    transition_update(queryset=ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED), table=IMPORT_TRANSITIONS,
                      to=ImportStatus.CANCELLED, finished_at=now, phase="cancelled before it started")
    transition_update(queryset=_silent(now).filter(pk=job.pk), table=IMPORT_TRANSITIONS, to=ImportStatus.CANCELLED,
                      finished_at=now, phase="cancelled (its worker had stopped)")
    job.refresh_from_db()
    return job


def stock_imports_reap(*, now: datetime | None = None) -> int:
    """Beat: finish every running job whose worker died (silent for ``OMNI_IMPORT_STALE_SECONDS``):
    failed with the reason, or cancelled when a cancel was asked. Its apply is one transaction, so
    nothing of it was applied. Returns how many jobs were reaped."""
    now = now or timezone.now()
    cancelled = transition_update(
        queryset=_silent(now).filter(cancel_requested=True), table=IMPORT_TRANSITIONS, to=ImportStatus.CANCELLED,
        finished_at=now, phase="cancelled (its worker had stopped)",
    )
    failed = transition_update(
        queryset=_silent(now), table=IMPORT_TRANSITIONS, to=ImportStatus.FAILED, finished_at=now, phase="failed",
        failure=f"The worker running this import stopped (no sign of life for {settings.OMNI_IMPORT_STALE_SECONDS} s); "
        "nothing was changed. Upload the file again.",
    )
    if cancelled or failed:
        logger.warning("reaped %s stock import(s) whose worker died", cancelled + failed)
    return cancelled + failed


class _Errors:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[dict] = []
        self.count = 0

    def add(self, error: RowError) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(error.as_dict())

    def extend(self, errors: list[RowError], total: int) -> None:
        self.count += total
        room = self.limit - len(self.items)
        self.items.extend(e.as_dict() for e in errors[:room])

    def sorted(self) -> list[dict]:
        return sorted(self.items, key=lambda e: (e["line"], e["column_number"] or 0))


def _cancel_requested(job: ImportJob) -> bool:
    return ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists()


def _save(job: ImportJob, *fields: str) -> None:
    job.heartbeat_at = timezone.now()
    job.save(update_fields=[*fields, "heartbeat_at"])


def stock_import_run(
    *, job_id: int, progress: ProgressCallback | None = None, chunk_rows: int = CHUNK_ROWS, record_counts: bool = True,
) -> ImportJob:
    """Run one import job to the end. Idempotent: a finished job is returned as it is; a job
    interrupted mid-run (worker lost) starts again from the file, since nothing was applied."""
    notify = progress or (lambda j: None)
    # Claim the job: a conditional update, so that a run that waited for another run's commit
    # (a redelivered task) finds the job finished and leaves it alone.
    claimed = transition_update(
        queryset=ImportJob.objects.filter(pk=job_id), table=IMPORT_TRANSITIONS, to=ImportStatus.VALIDATING, phase=PHASE_READING,
        started_at=timezone.now(), heartbeat_at=timezone.now(), finished_at=None,
        rows_total=0, rows_done=0, bytes_done=0, rows_applied=0, rows_unchanged=0, rows_skipped=0,
        movements_written=0, outbox_events=0, error_count=0, errors=[], failure="",
    )
    job = ImportJob.objects.select_related("location").get(pk=job_id)
    if not claimed:
        return job
    tables = StageTables.for_job(job.pk)
    errors = _Errors(ImportJob.MAX_STORED_ERRORS)
    notify(job)
    run_started = time.perf_counter()
    try:
        if _cancel_requested(job):
            raise ImportCancelled
        stage_create(tables=tables)
        assert job.file.name, "an import job is created with its file"
        with job.file.storage.open(job.file.name, "rb") as handle:
            raw = cast(BinaryIO, getattr(handle, "file", handle))  # the OS file under Django's File wrapper
            reader = StockFileReader(
                raw, mode=job.mode, on_error=errors.add,
                location_code=job.location.code if job.location is not None else None, default_note=job.note,
            )
            try:
                for batch in reader.batches(chunk_rows):
                    stage_load(tables=tables, rows=batch)
                    job.rows_done, job.bytes_done = reader.rows_seen, reader.bytes_read()
                    _save(job, "rows_done", "bytes_done")
                    notify(job)
                    if _cancel_requested(job):
                        raise ImportCancelled
            except FatalFileError as fatal:
                errors.items.insert(0, fatal.error.as_dict())
                errors.count += 1
                return _finish_failed(job, errors, f"The file cannot be imported: {fatal.error.message}")
        job.rows_total = job.rows_done = reader.rows_seen
        job.bytes_done = job.bytes_total
        job.phase = PHASE_CHECKING
        _save(job, "rows_total", "rows_done", "bytes_done", "phase")
        notify(job)
        if _cancel_requested(job):
            raise ImportCancelled

        check = stage_validate(tables=tables, mode=job.mode)
        errors.extend(
            stage_errors(tables=tables, columns=reader.columns, limit=errors.limit - len(errors.items), mode=job.mode), check.errors
        )
        skipped = reader.rows_bad + check.rows_refused
        if errors.count and not job.apply_valid:
            return _finish_failed(
                job, errors,
                f"{skipped} of {reader.rows_seen} rows have problems ({errors.count} in all); nothing was changed. "
                "Fix the file, or import again with “apply valid rows”.",
                skipped=skipped,
            )
        if _cancel_requested(job):
            raise ImportCancelled
        _move(job, ImportStatus.APPLYING)
        job.phase = PHASE_APPLYING
        _save(job, "status", "phase")
        notify(job)

        now = timezone.now()
        late: list[RowError] = []
        apply_started = time.perf_counter()
        try:
            with transaction.atomic():
                # Two runs of one job (a redelivered task) serialise here; only one applies.
                if ImportJob.objects.select_for_update(of=("self",)).values_list("status", flat=True).get(pk=job.pk) in FINISHED_STATUSES:
                    raise _AlreadyApplied
                try:
                    summary = stage_apply(
                        tables=tables, mode=job.mode, now=now, source=job.source, actor_id=job.created_by_id,
                        reference=f"import:{job.pk}", note=job.note or ("stock count import" if job.mode == "snapshot" else ""),
                        allow_partial=job.apply_valid, record_counts=record_counts,
                    )
                except StockChangedMeanwhile:
                    late = [e for e in stage_errors(tables=tables, columns=reader.columns, limit=errors.limit, mode=job.mode)
                            if e.code in ("count_below_reserved", "insufficient_stock", "stock_reserved", "stock_out_of_range")]
                    raise
                if _cancel_requested(job):
                    raise ImportCancelled
                if summary.new_errors:
                    late = [e for e in stage_errors(tables=tables, columns=reader.columns, limit=errors.limit, mode=job.mode)]
                    known = {(e["line"], e["code"]) for e in errors.items}
                    fresh = [e for e in late if (e.line, e.code) not in known]
                    errors.extend(fresh, summary.new_errors)
                    skipped += summary.new_errors
                _move(job, ImportStatus.DONE)
                job.phase, job.finished_at = "done", timezone.now()
                job.rows_applied, job.rows_unchanged, job.rows_skipped = summary.rows_applied, summary.rows_unchanged, skipped
                job.movements_written, job.outbox_events = summary.movements_written, summary.outbox_events
                job.error_count, job.errors = errors.count, errors.sorted()
                job.save()
                if summary.outbox_events:
                    transaction.on_commit(outbox_kick)
                commit_started = time.perf_counter()
            # The commit (deferred foreign-key checks included) is part of the job's time.
            job.finished_at = timezone.now()
            ImportJob.objects.filter(pk=job.pk).update(finished_at=job.finished_at)
            logger.info(
                "stock import %s: %s rows; read+stage+check %.1fs, apply %.1fs, commit %.1fs", job.pk, job.rows_total,
                apply_started - run_started, commit_started - apply_started, time.perf_counter() - commit_started,
            )
        except _AlreadyApplied:
            return ImportJob.objects.get(pk=job.pk)
        except StockChangedMeanwhile as exc:
            errors.extend(late, exc.rows)
            return _finish_failed(
                job, errors, f"Stock changed while the file was imported: {exc.rows} row(s) no longer fit; nothing was changed.",
                skipped=skipped + exc.rows,
            )
        notify(job)
        return job
    except ImportCancelled:
        _move(job, ImportStatus.CANCELLED)
        job.phase, job.finished_at = "cancelled", timezone.now()
        job.error_count, job.errors = errors.count, errors.sorted()
        job.save()
        notify(job)
        return job
    except Exception as exc:  # a bug or a lost database: the job says so; stock is untouched (one transaction)
        logger.exception("stock import %s failed", job.pk)
        return _finish_failed(job, errors, f"The import failed unexpectedly: {exc.__class__.__name__}: {exc}"[:2000])
    finally:
        try:
            stage_drop(tables=tables)
        except Exception:  # the session may be gone; TEMP tables die with it
            logger.warning("could not drop staging tables of import %s", job.pk, exc_info=True)


def _finish_failed(job: ImportJob, errors: _Errors, message: str, *, skipped: int = 0) -> ImportJob:
    """Mark the job failed with its reason. Never leaves it running: when its error list cannot be
    stored, the job is still marked failed, with the reason and without the list."""
    message = without_control_characters(message)
    _move(job, ImportStatus.FAILED)
    job.phase, job.finished_at = "failed", timezone.now()
    job.failure, job.error_count, job.errors, job.rows_skipped = message, errors.count, errors.sorted(), skipped
    job.rows_applied = job.movements_written = job.outbox_events = job.rows_unchanged = 0
    try:
        with transaction.atomic():
            job.save()
    except Exception:
        logger.exception("stock import %s: could not store its error list; marking it failed without it", job.pk)
        job.errors = []
        job.failure = f"{message} (The list of row errors could not be stored.)"
        transition_update(queryset=ImportJob.objects.filter(pk=job.pk), table=IMPORT_TRANSITIONS, to=ImportStatus.FAILED,
                          phase=job.phase, finished_at=job.finished_at, failure=job.failure, error_count=job.error_count,
                          errors=[], rows_skipped=skipped, rows_applied=0, movements_written=0, outbox_events=0,
                          rows_unchanged=0)
    return job
