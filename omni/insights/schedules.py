"""Beat schedule of the insights app (collected by omni/celery.py): KPI snapshots every 15 minutes."""

BEAT_SCHEDULE = {
    "insights-kpi-snapshot": {"task": "omni.insights.tasks.kpi_snapshot_recent", "schedule": 900.0},
}
