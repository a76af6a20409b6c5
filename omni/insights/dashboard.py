"""The dashboard's read model: the eight KPIs for a date range and filters, from the daily
snapshots (``KpiFact``) or, as the benchmark's baseline and the tests' cross-check, straight from
the raw rows (``facts_for_day`` per day). Both paths aggregate the same additive facts the same way."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Max, Q, Sum

from inventory.models import Location

from .facts import MINUTE_EDGES, MS_EDGES, facts_for_days
from .live import ChannelDrift, LostToday, lost_sales_today, sync_drift
from .models import KpiFact

DURATION_EDGES = {"bopis_ready_minutes": MINUTE_EDGES, "bopis_handover_minutes": MINUTE_EDGES, "sync_latency_ms": MS_EDGES}
NO_CHANNEL = {"accuracy", "inventory_value"}  # facts without a channel: the channel filter does not apply
NO_LOCATION = {"sync_latency_ms", "lost_sales_units", "lost_sales_value"}  # facts without a location: the location filters do not apply


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    channel_id: int | None = None
    location_id: int | None = None
    location_kind: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


@dataclass
class Agg:
    count: int = 0
    total: int = 0
    peak: int | None = None
    hist: dict[int, int] = field(default_factory=dict)

    def add(self, count: int, total: int, peak: int | None, hist: dict | None) -> None:
        self.count += count or 0
        self.total += total or 0
        if peak is not None:
            self.peak = peak if self.peak is None else max(self.peak, peak)
        for k, v in (hist or {}).items():
            self.hist[int(k)] = self.hist.get(int(k), 0) + v

    def ratio(self) -> float | None:
        return self.count / self.total if self.total else None

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float, edges: list[int]) -> int | None:
        """The bucket's upper edge where the q-th observation falls ("≤ this")."""
        n = sum(self.hist.values())
        if not n:
            return None
        need, seen = q * n, 0
        for k in sorted(self.hist):
            seen += self.hist[k]
            if seen >= need:
                return edges[k] if k < len(edges) else (self.peak or edges[-1])
        return self.peak  # pragma: no cover


# --- where the facts come from -----------------------------------------------------------------

Row = tuple[date, str, int, int, int | None, dict | None]  # day, metric, count, total, peak, hist


def _location_ids(filters: Filters) -> set[int] | None:
    if filters.location_id:
        return {filters.location_id}
    if filters.location_kind:
        return set(Location.objects.filter(kind=filters.location_kind).values_list("id", flat=True))
    return None


def rows_from_snapshots(filters: Filters) -> Iterator[Row]:
    qs = KpiFact.objects.filter(day__gte=filters.start, day__lte=filters.end)
    locs = _location_ids(filters)
    plain = qs.exclude(metric__in=list(DURATION_EDGES))
    timed = qs.filter(metric__in=list(DURATION_EDGES))
    for part in (plain, timed):
        part = _apply(part, filters, locs)
        if part is plain:
            for r in part.values("day", "metric").annotate(c=Sum("count"), t=Sum("total"), p=Max("peak")).order_by():
                yield r["day"], r["metric"], r["c"], r["t"], r["p"], None
        else:
            yield from part.values_list("day", "metric", "count", "total", "peak", "hist")


def _apply(qs, filters: Filters, locs: set[int] | None):
    if filters.channel_id:
        qs = qs.filter(Q(channel_id=filters.channel_id) | Q(metric__in=list(NO_CHANNEL)))
    if locs is not None:
        qs = qs.filter(Q(location_id__in=locs) | Q(metric__in=list(NO_LOCATION)))
    return qs


def rows_from_raw(filters: Filters) -> Iterator[Row]:
    """The baseline: every day recomputed from the ledger, orders, fulfillment and the sync log."""
    locs = _location_ids(filters)
    for day_facts in facts_for_days(filters.dates()):
        day = day_facts.day
        for f in day_facts:
            if filters.channel_id and f.metric not in NO_CHANNEL and f.channel_id != filters.channel_id:
                continue
            if locs is not None and f.metric not in NO_LOCATION and f.location_id not in locs:
                continue
            yield day, f.metric, f.count, f.total, f.peak, f.hist


# --- the KPIs ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KpiSpec:
    code: str
    title: str
    definition: str
    starting: str
    target: str
    unit: str


KPIS = [
    KpiSpec("accuracy", "Stock accuracy", "Cycle-count hit rate: counted records within tolerance of their ABC class "
            "(A ±1 %, B ±3 %, C ±5 % of the system quantity) / records counted. Variances are never netted.",
            "85–90 %", "98 %+", "%"),
    KpiSpec("fill_rate", "Order fill rate", "Orders fulfilled complete and on time, never backordered and without a "
            "cancelled line / orders decided (fulfilled or cancelled) in the period. Line and unit fill rate beside it.",
            "88–92 %", "97 %+", "%"),
    KpiSpec("overselling", "Overselling rate", "Order lines a location could not fill (rejected: not found, short "
            "pick) and that no other location could take / order lines placed.", "3–5 %", "< 0.5 %", "%"),
    KpiSpec("ship_from_store", "Ship-from-store rate", "Online orders shipped from a store / online orders placed "
            "(POS excluded). BOPIS (picked up where the stock is) and ship-to-store (moved to the pickup store) beside it.",
            "0 %", "20–35 %", "%"),
    KpiSpec("bopis_prep", "BOPIS preparation time", "Order placed → ready for pickup: mean and p90. Ready → handed "
            "over: mean. Pickups never collected (expired) / pickups closed.", "4 h+", "< 2 h", "h"),
    KpiSpec("turnover", "Inventory turnover", "Cost of goods sold (sales and shipped orders at unit cost) / average "
            "on-hand value at cost, annualised (× 365 / days).", "4–6 a year", "8–12 a year", "×"),
    KpiSpec("sync_latency", "Sync latency", "Committed stock change → channel acknowledged: p50, p95 and max over the "
            "pushes acknowledged in the period. Drift, now: per channel, the figure it last acknowledged for each SKU against "
            "the figure Omni would publish now (its ATP); the SKUs that differ and the largest difference.",
            "15–60 min", "< 5 min", "s"),
    KpiSpec("lost_demand", "Lost sales", "Demand refused: units of orders refused at intake (no ATP for the channel, "
            "held back by other channels' quotas, a scarce SKU lost) and units given up after a rejection no other location "
            "could take. Beside it, those the pool held elsewhere when refused (on hand less reserved at the other locations "
            "covered them), and order lines cancelled after a backorder.", "—", "as low as possible", "units"),
]


@dataclass
class KpiFigure:
    spec: KpiSpec
    value: float | None
    display: str
    details: list[tuple[str, str]]
    series: list[tuple[date, float | None]]
    status: str  # "ok", "warn", "bad", "none"


@dataclass(frozen=True)
class Live:
    """Figures read now from the raw rows, beside the snapshots."""

    drift: list[ChannelDrift]
    lost_today: LostToday


@dataclass
class Dashboard:
    filters: Filters
    kpis: list[KpiFigure]
    totals: dict[str, Agg]
    live: Live | None = None


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f} %"


def _hours(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    return f"{minutes / 60:.1f} h" if minutes >= 60 else f"{minutes:.0f} min"


def _secs(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms / 1000:.1f} s" if ms < 120_000 else f"{ms / 60000:.1f} min"


def _money(cents: int) -> str:
    return f"{cents / 100:,.0f}"


def _status(value: float | None, good: float, bad: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "none"
    if higher_is_better:
        return "ok" if value >= good else "bad" if value < bad else "warn"
    return "ok" if value <= good else "bad" if value > bad else "warn"


def live_figures(filters: Filters) -> Live:
    return Live(drift=sync_drift(channel_id=filters.channel_id), lost_today=lost_sales_today(channel_id=filters.channel_id))


def _drift_details(live: Live | None) -> list[tuple[str, str]]:
    if live is None:
        return []
    drifting, known = sum(d.drifting for d in live.drift), sum(d.skus for d in live.drift)
    worst = max(live.drift, key=lambda d: d.max_drift, default=None)
    return [("SKUs drifting now", f"{drifting:,} of {known:,}"),
            ("largest drift now", f"{worst.max_drift:,} units ({worst.code}, {worst.max_sku})" if worst and worst.max_drift else "none")]


def build(filters: Filters, rows: Iterable[Row], live: Live | None = None) -> Dashboard:
    totals: dict[str, Agg] = defaultdict(Agg)
    daily: dict[tuple[str, date], Agg] = defaultdict(Agg)
    for day, metric, count, total, peak, hist in rows:
        totals[metric].add(count, total, peak, hist)
        daily[(metric, day)].add(count, total, peak, hist)
    dates = filters.dates()

    def series(fn) -> list[tuple[date, float | None]]:
        return [(d, fn(d)) for d in dates]

    def on(metric: str, d: date) -> Agg:
        return daily.get((metric, d)) or Agg()

    t = totals
    acc = t["accuracy"].ratio()
    fill = t["orders_filled"].ratio()
    over = t["oversold_lines"].ratio()
    sfs = t["ship_from_store"].ratio()
    ready = t["bopis_ready_minutes"]
    years = filters.days / 365
    avg_value = t["inventory_value"].count / filters.days if filters.days else 0
    turnover = (t["cogs"].count / years / avg_value) if avg_value else None
    lat = t["sync_latency_ms"]
    lat_p95 = lat.quantile(0.95, MS_EDGES)
    lost = t["lost_sales_units"]

    def day_turnover(d: date) -> float | None:
        v = on("inventory_value", d).count
        return on("cogs", d).count * 365 / v if v else None

    def day_ratio(metric: str):
        return lambda d: (r * 100 if (r := on(metric, d).ratio()) is not None else None)

    def day_p(metric: str, q: float, edges: list[int], scale: float):
        return lambda d: (v / scale if (v := on(metric, d).quantile(q, edges)) is not None else None)

    kpis = [
        KpiFigure(KPIS[0], acc, _pct(acc), [("records counted", f"{t['accuracy'].total:,}"),
                                            ("within tolerance", f"{t['accuracy'].count:,}")],
                  series(day_ratio("accuracy")), _status(acc, 0.98, 0.90)),
        KpiFigure(KPIS[1], fill, _pct(fill), [("orders decided", f"{t['orders_filled'].total:,}"),
                                              ("line fill rate", _pct(t["lines_filled"].ratio())),
                                              ("unit fill rate", _pct(t["units_filled"].ratio()))],
                  series(day_ratio("orders_filled")), _status(fill, 0.97, 0.92)),
        KpiFigure(KPIS[2], over, _pct(over), [("lines placed", f"{t['oversold_lines'].total:,}"),
                                              ("lines oversold", f"{t['oversold_lines'].count:,}")],
                  series(day_ratio("oversold_lines")), _status(over, 0.005, 0.03, higher_is_better=False)),
        KpiFigure(KPIS[3], sfs, _pct(sfs), [("online orders", f"{t['ship_from_store'].total:,}"),
                                            ("BOPIS", _pct(t["bopis_share"].ratio())),
                                            ("ship-to-store", _pct(t["ship_to_store"].ratio()))],
                  series(day_ratio("ship_from_store")),
                  "none" if sfs is None else "ok" if 0.20 <= sfs <= 0.35 else "warn" if sfs >= 0.10 else "bad"),
        KpiFigure(KPIS[4], ready.mean(), _hours(ready.mean()),
                  [("p90 placed → ready", _hours(ready.quantile(0.9, MINUTE_EDGES))),
                   ("ready → handed over", _hours(t["bopis_handover_minutes"].mean())),
                   ("never collected", _pct(t["bopis_uncollected"].ratio())), ("pickups ready", f"{ready.count:,}")],
                  series(lambda d: (m / 60 if (m := on("bopis_ready_minutes", d).mean()) is not None else None)),
                  _status(ready.mean(), 120, 240, higher_is_better=False)),
        KpiFigure(KPIS[5], turnover, "—" if turnover is None else f"{turnover:.1f} ×",
                  [("cost of goods sold", _money(t["cogs"].count)), ("average stock at cost", _money(int(avg_value)))],
                  series(day_turnover), _status(turnover, 8, 6)),
        KpiFigure(KPIS[6], lat_p95, _secs(lat_p95),
                  [("p50", _secs(lat.quantile(0.5, MS_EDGES))), ("p95", _secs(lat_p95)), ("max", _secs(lat.peak)),
                   ("pushes", f"{lat.count:,}"), *_drift_details(live)],
                  series(day_p("sync_latency_ms", 0.95, MS_EDGES, 1000)),
                  _status(lat_p95, 300_000, 900_000, higher_is_better=False)),
        KpiFigure(KPIS[7], float(lost.total), f"{lost.total:,} units",
                  [("held elsewhere in the pool", f"{lost.count:,} units"),
                   ("value refused", _money(t["lost_sales_value"].total)),
                   ("value held elsewhere", _money(t["lost_sales_value"].count)),
                   *([("today so far (live)", f"{live.lost_today.units:,} units, {live.lost_today.held_elsewhere:,} held elsewhere")]
                     if live is not None else []),
                   ("cancelled after a backorder", f"{t['lost_demand'].count:,} units")],
                  series(lambda d: float(on("lost_sales_units", d).total)), "none" if not lost.total else "warn"),
    ]
    return Dashboard(filters=filters, kpis=kpis, totals=dict(totals), live=live)


def dashboard_from_snapshots(filters: Filters, *, with_live: bool = True) -> Dashboard:
    return build(filters, rows_from_snapshots(filters), live_figures(filters) if with_live else None)


def dashboard_from_raw(filters: Filters, *, with_live: bool = True) -> Dashboard:
    return build(filters, rows_from_raw(filters), live_figures(filters) if with_live else None)

