"""``bench dashboard``: the KPI dashboard (the admin's home page) over 90 days of the demo chain.

Seeds the demo retailer in the scratch database (40 stores, 2,000 SKUs, 90 days of ledger, orders,
fulfillment, counts and pushes, and the daily KPI snapshots), then requests the dashboard page for
the whole 90 days as a signed-in merchandiser, ``--renders`` times: server time (the request through
Django, charts included) and database queries per page. The baseline in the same run computes the
same figures and charts straight from the raw rows (``facts_for_days`` for every day), which is
what a dashboard without snapshots would do on every view; the figures of both must agree."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Callable

from omni.benchmarks.measure import load_average, percentile

NAME = "dashboard"
HELP = "KPI dashboard page over 90 days of the demo chain: from snapshots vs computed from raw rows."


def add_arguments(parser) -> None:
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--baseline-renders", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)


def run(*, out: Callable[[str], None], days: int = 90, stores: int = 40, skus: int = 2000, renders: int = 20,
        baseline_renders: int = 2, seed: int = 42, **_: Any) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from omni.demo.seed import seed_demo
    from omni.insights.charts import history_svg
    from omni.insights.dashboard import Filters, dashboard_from_raw, dashboard_from_snapshots
    from omni.insights.models import KpiFact

    load_before = load_average()
    t0 = time.perf_counter()
    seed_demo(seed=seed, stores=stores, skus=skus, days=days)
    out(f"demo chain seeded in {time.perf_counter() - t0:.0f} s: {KpiFact.objects.count()} KPI fact rows")
    end = timezone.now().date()
    start = end - timedelta(days=days - 1)
    filters = Filters(start=start, end=end)
    user = get_user_model().objects.filter(is_superuser=True).get()
    client = Client()
    client.force_login(user)
    url = f"/admin/?start={start.isoformat()}&end={end.isoformat()}"

    from django.core.cache import cache

    cache.clear()
    t = time.perf_counter()
    client.get(url)  # the first view draws the charts (then cached while the snapshots stay the same)
    first_ms = (time.perf_counter() - t) * 1000
    timings, queries = [], []
    for _render in range(renders):
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            res = client.get(url)
            timings.append((time.perf_counter() - t) * 1000)
        assert res.status_code == 200, res.status_code
        queries.append(len(ctx.captured_queries))

    def charts(board) -> None:
        for k in board.kpis:
            history_svg(title=k.spec.title, series=k.series, target=None, unit="")

    base = []
    raw_board = None
    for _render in range(baseline_renders):
        t = time.perf_counter()
        raw_board = dashboard_from_raw(filters)
        charts(raw_board)
        base.append((time.perf_counter() - t) * 1000)
    snap_board = dashboard_from_snapshots(filters)
    same = [(k.spec.code, k.display, k.details) for k in snap_board.kpis] == \
        [(k.spec.code, k.display, k.details) for k in raw_board.kpis] if raw_board else None

    p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
    b95 = percentile(base, 0.95)
    out(f"dashboard over {days} days: first view {first_ms:.0f} ms (draws the charts); page p50 {p50:.0f} ms, p95 {p95:.0f} ms, {max(queries)} queries; "
        f"baseline (from raw rows) p95 {b95:.0f} ms; same figures: {same}")
    return {
        "renders": renders, "p50_ms": round(p50, 1), "first_ms": round(first_ms, 1), "baseline_p95_ms": round(b95, 1),
        "ratio_p95": round(b95 / p95, 1) if p95 else None, "same_figures": same,
        "kpi_fact_rows": KpiFact.objects.count(), "load_avg_1m": [load_before, load_average()],
        "days": days, "p95_ms": round(p95, 1), "queries": max(queries),
    }
