"""ImportJob: one CSV stock import, its progress and its result.

Imported at the end of ``inventory/models.py`` so that it belongs to the ``inventory`` app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportMode(models.TextChoices):
    SNAPSHOT = "snapshot", "Snapshot (counted on-hand; difference posted as count correction)"
    DELTA = "delta", "Delta (add/remove quantities; posted as adjustment)"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    VALIDATING = "validating", "Validating"
    APPLYING = "applying", "Applying"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


PHASE_READING = "reading the file"
PHASE_CHECKING = "checking SKUs, locations and stock"
PHASE_APPLYING = "applying"

FINISHED_STATUSES = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)


class ImportJob(models.Model):
    """Rows counts are data rows (the header is line 1). ``errors`` keeps at most
    ``MAX_STORED_ERRORS`` entries ``{line, column, column_number, value, code, message}``;
    ``error_count`` is the full count."""

    MAX_STORED_ERRORS = 10_000

    mode = models.CharField(max_length=10, choices=ImportMode.choices, default=ImportMode.SNAPSHOT)
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.QUEUED, db_index=True)
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=255)
    original_name = models.CharField(max_length=255, blank=True, default="")
    location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Every row goes to this location (the file's location column may then be left out).",
    )
    apply_valid = models.BooleanField(default=False, help_text="Apply the valid rows even when some rows are wrong.")
    note = models.CharField(max_length=255, blank=True, default="", help_text="Reason for delta adjustments.")
    source = models.CharField(max_length=64, default="import")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running the job; a running job silent for "
        "longer than OMNI_IMPORT_STALE_SECONDS is reaped (its worker died).",
    )
    phase = models.CharField(max_length=64, blank=True, default="")

    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    rows_total = models.IntegerField(default=0)
    rows_done = models.IntegerField(default=0)
    rows_applied = models.IntegerField(default=0)
    rows_unchanged = models.IntegerField(default=0)
    rows_skipped = models.IntegerField(default=0)
    movements_written = models.IntegerField(default=0)
    outbox_events = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = "stock file import"
        verbose_name_plural = "stock file imports"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(mode__in=["snapshot", "delta"]), name="importjob_mode_valid"),
        ]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.mode}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def elapsed_seconds(self) -> float:
        from django.utils import timezone

        if not self.started_at:
            return 0.0
        end = self.finished_at or timezone.now()
        return max((end - self.started_at).total_seconds(), 0.0)

    @property
    def rows_per_s(self) -> float:
        seconds = self.elapsed_seconds
        return round(self.rows_done / seconds, 1) if seconds > 0 else 0.0

    @property
    def rows_estimated(self) -> int:
        """Total rows, or while reading an estimate from the bytes read so far."""
        if self.rows_total:
            return self.rows_total
        if self.bytes_done and self.bytes_total:
            return max(int(self.rows_done * self.bytes_total / self.bytes_done), self.rows_done)
        return 0

    @property
    def percent(self) -> float:
        """Reading and staging the file is most of the work (0–80 %, by bytes read); checking
        takes it to 85 % and applying to 100 %."""
        if self.is_finished:
            return 100.0
        if self.status == ImportStatus.APPLYING:
            return 90.0
        if self.phase == PHASE_CHECKING:
            return 82.0
        if self.status == ImportStatus.VALIDATING and self.bytes_total:
            return round(min(self.bytes_done / self.bytes_total, 1.0) * 80, 1)
        return 0.0

    @property
    def seconds_left(self) -> float | None:
        pct = self.percent
        if self.is_finished:
            return 0.0
        if pct <= 0:
            return None
        return round(self.elapsed_seconds * (100 - pct) / pct, 1)
