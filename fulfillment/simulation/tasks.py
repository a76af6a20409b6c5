"""The what-if as a Celery job: progress and result in the cache under ``whatif:<job id>``."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.core.cache import cache

JOB_TTL = 24 * 3600


def job_key(job_id: str) -> str:
    return f"whatif:{job_id}"


@shared_task(name="fulfillment.simulation.whatif")
def whatif_job(job_id: str, spec: dict) -> None:
    from .whatif import WhatIfSpec, whatif_run

    key = job_key(job_id)
    state = cache.get(key) or {}

    def progress(done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            cache.set(key, {**state, "status": "running", "done": done, "total": total}, JOB_TTL)

    try:
        result = whatif_run(spec=WhatIfSpec(since=date.fromisoformat(spec["since"]), until=date.fromisoformat(spec["until"]),
                                            criteria=spec["criteria"], max_shipments=spec["max_shipments"],
                                            profile_label=spec["profile_label"], channel_id=spec.get("channel_id")),
                            progress=progress)
    except Exception as exc:  # the page shows what went wrong instead of waiting forever
        cache.set(key, {**state, "status": "failed", "error": str(exc)}, JOB_TTL)
        raise
    cache.set(key, {**state, "status": "done", "done": result["orders"], "total": result["orders"], "result": result}, JOB_TTL)
