from celery import shared_task

from .services import kpi_snapshot_recent


@shared_task(name="omni.insights.tasks.kpi_snapshot_recent")
def kpi_snapshot_recent_task() -> int:
    """Idempotent: each run replaces today's and yesterday's snapshot."""
    return kpi_snapshot_recent(days=2)
