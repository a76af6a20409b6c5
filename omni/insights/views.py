"""The dashboard (the admin's home page, through unfold's DASHBOARD_CALLBACK) and its CSV export.
Thin: parse the filters, call the read model, render."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from allocation.models import Channel
from inventory.models import Location, LocationKind

from .attention import attention_now
from .charts import history_svg
from .dashboard import Dashboard, Filters, dashboard_from_snapshots
from .live import sync_drift
from .models import KpiFact

DEFAULT_DAYS = 30
CHART_CACHE_SECONDS = 15 * 60
CHART_TARGET = {"accuracy": 98, "fill_rate": 97, "overselling": 0.5, "ship_from_store": 20, "bopis_prep": 2,
                "turnover": 8, "sync_latency": 300, "lost_demand": None}
CHART_UNIT = {"accuracy": "%", "fill_rate": "%", "overselling": "%", "ship_from_store": "%", "bopis_prep": "hours",
              "turnover": "× a year", "sync_latency": "p95, s", "lost_demand": "units"}


def _date(value: str | None, default: date, errors: list[str], name: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{name}: {value!r} is not a date (YYYY-MM-DD); showing {default.isoformat()}.")
        return default


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def parse_filters(params: Any) -> tuple[Filters, list[str]]:
    errors: list[str] = []
    today = timezone.now().date()
    end = _date(params.get("end"), today, errors, "To")
    start = _date(params.get("start"), end - timedelta(days=DEFAULT_DAYS - 1), errors, "From")
    if start > end:
        errors.append("From is after To; the two were swapped.")
        start, end = end, start
    if (end - start).days > 366:
        errors.append("At most 366 days at once; the range was shortened.")
        start = end - timedelta(days=366)
    kind = params.get("kind") or ""
    if kind and kind not in LocationKind.values:
        errors.append(f"Unknown location kind {kind!r}.")
        kind = ""
    return Filters(start=start, end=end, channel_id=_int(params.get("channel")), location_id=_int(params.get("location")),
                   location_kind=kind), errors


def dashboard_callback(request: Any, context: dict[str, Any]) -> dict[str, Any]:
    filters, errors = parse_filters(request.GET)
    board = dashboard_from_snapshots(filters)
    query = request.GET.urlencode()
    charts = _charts(board)
    cards = [{"kpi": k, "chart": mark_safe(svg)} for k, svg in zip(board.kpis, charts, strict=True)]  # noqa: S308 - pygal escapes
    csv_url = reverse("admin:insights_dashboard_csv")
    context.update({
        "title": "Dashboard",
        "dashboard": board,
        "cards": cards,
        "filters": filters,
        "filter_errors": errors,
        "attention": attention_now(),
        "channels": Channel.objects.order_by("code").values_list("id", "code"),
        "locations": Location.objects.filter(is_active=True).order_by("code").values_list("id", "code", "name"),
        "kinds": LocationKind.choices,
        "csv_kpis": f"{csv_url}?{urlencode({'table': 'kpis'})}&{query}",
        "csv_daily": f"{csv_url}?{urlencode({'table': 'daily'})}&{query}",
        "csv_attention": f"{csv_url}?{urlencode({'table': 'attention'})}&{query}",
        "csv_drift": f"{csv_url}?{urlencode({'table': 'drift'})}&{query}",
        "has_snapshots": bool(board.totals),
        "explorer_url": reverse("admin:allocation_atp_explorer"),
        "safety_stock_url": reverse("admin:allocation_safetystockpolicy_changelist"),
    })
    return context


def _charts(board: Dashboard) -> list[str]:
    """The eight history charts; drawing them is most of the page's time, so they are cached for as
    long as the snapshots they show stay the same (the key holds the filters and the snapshots' version)."""
    f = board.filters
    version = KpiFact.objects.filter(day__gte=f.start, day__lte=f.end).aggregate(at=Max("computed_at"), n=Count("id"))
    key = "insights:charts:" + hashlib.sha1(repr((f, version["at"], version["n"])).encode()).hexdigest()
    charts = cache.get(key)
    if charts is None:
        charts = [history_svg(title=k.spec.title, series=k.series, target=CHART_TARGET[k.spec.code], unit=CHART_UNIT[k.spec.code])
                  for k in board.kpis]
        cache.set(key, charts, CHART_CACHE_SECONDS)
    return charts


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _cell(value: float | None) -> str | float:
    return "" if value is None else round(value, 4)


def dashboard_csv(request: Any) -> HttpResponse:
    filters, _errors = parse_filters(request.GET)
    table = request.GET.get("table", "kpis")
    span = f"{filters.start.isoformat()}_{filters.end.isoformat()}"
    if table == "attention":
        return _csv(f"attention-{timezone.now().date().isoformat()}", ["what", "count", "link"],
                    [[a.what, a.count, request.build_absolute_uri(a.link) if a.link else ""] for a in attention_now()])
    if table == "drift":
        return _csv(f"sync-drift-{timezone.now().date().isoformat()}", ["channel", "skus acknowledged", "drifting", "largest drift", "sku"],
                    [[d.code, d.skus, d.drifting, d.max_drift, d.max_sku] for d in sync_drift(channel_id=filters.channel_id)])
    board: Dashboard = dashboard_from_snapshots(filters, with_live=table == "kpis")
    if table == "daily":
        header = ["day"] + [f"{k.spec.title} ({CHART_UNIT[k.spec.code]})" for k in board.kpis]
        rows: list[list[Any]] = [[d.isoformat()] + [_cell(k.series[i][1]) for k in board.kpis] for i, d in enumerate(filters.dates())]
        return _csv(f"kpi-daily-{span}", header, rows)
    rows = []
    for k in board.kpis:
        rows.append([k.spec.title, k.display, k.spec.starting, k.spec.target, k.status,
                     "; ".join(f"{a}: {b}" for a, b in k.details), k.spec.definition])
    return _csv(f"kpis-{span}", ["KPI", "value", "starting band", "target", "status", "details", "definition"], rows)
