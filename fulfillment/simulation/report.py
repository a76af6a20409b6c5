"""The side-by-side KPI table (text) and the HTML report with server-side SVG charts (pygal)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pygal
from pygal.style import Style

# (key, label, format, lower is better)
ROWS: list[tuple[str, str, str, bool]] = [
    ("orders", "online orders placed", "{:.0f}", False),
    ("fill_rate", "order fill rate (complete, on time)", "{:.1%}", False),
    ("line_fill_rate", "line fill rate", "{:.1%}", False),
    ("oversell_rate", "overselling rate", "{:.2%}", True),
    ("ship_from_store_rate", "ship-from-store rate (delivery orders)", "{:.1%}", False),
    ("bopis_share", "BOPIS share of online orders", "{:.1%}", False),
    ("bopis_prep_hours_mean", "BOPIS placed → ready, mean h", "{:.1f}", True),
    ("bopis_never_collected", "BOPIS never collected", "{:.1%}", True),
    ("bopis_cross_sell_rate", "BOPIS cross-sell rate", "{:.1%}", False),
    ("split_rate", "split shipments", "{:.1%}", True),
    ("store_rejections", "store rejections (not found)", "{:.0f}", True),
    ("lost_sales_units", "lost sales, units (all)", "{:.0f}", True),
    ("lost_sales_pool_had_units", "… while the pool held the SKU", "{:.0f}", True),
    ("walk_in_lost_units", "… walk-in", "{:.0f}", True),
    ("online_lost_units", "… online", "{:.0f}", True),
    ("fulfillment_cost_per_order", "fulfilment cost per online order", "{:.2f}", True),
    ("holding_cost", "holding cost", "{:,.0f}", True),
    ("lost_margin", "lost margin", "{:,.0f}", True),
    ("markdown_cost", "markdowns and leftovers", "{:,.0f}", True),
    ("total_cost", "total of these costs", "{:,.0f}", True),
    ("turnover", "inventory turnover (annualised)", "{:.2f}", False),
    ("clearance_days", "clearance: days to sell 80 % of end-of-season stock", "{}", True),
    ("leftover_units", "units left at the end", "{:.0f}", True),
    ("sync_lag", "channel sync", "{}", True),
]


def change(a, b) -> float | None:
    """Relative change from ``a`` (siloed) to ``b`` (omni)."""
    if not isinstance(a, int | float) or not isinstance(b, int | float) or isinstance(a, bool) or not a:
        return None
    return (b - a) / abs(a)


def _fmt(fmt: str, value) -> str:
    if value is None:
        return "—"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def table_lines(siloed: dict, omni: dict) -> list[str]:
    width = max(len(label) for _k, label, _f, _l in ROWS)
    out = [f"{'KPI'.ljust(width)}  {'siloed':>14}  {'omni':>14}  {'change':>8}", "-" * (width + 44)]
    for key, label, fmt, _lower in ROWS:
        a, b = siloed.get(key), omni.get(key)
        if key == "clearance_days":
            a = _fmt("{}", a) + (" (extrap.)" if siloed.get("clearance_extrapolated") else "")
            b = _fmt("{}", b) + (" (extrap.)" if omni.get("clearance_extrapolated") else "")
            ch = change(siloed.get(key), omni.get(key))
        else:
            ch = change(a, b)
            a, b = _fmt(fmt, a), _fmt(fmt, b)
        out.append(f"{label.ljust(width)}  {a:>14}  {b:>14}  {('' if ch is None else f'{ch:+.1%}'):>8}")
    return out


STYLE = Style(background="white", plot_background="white", font_family="system-ui, sans-serif",
              colors=("#b45309", "#1d4ed8", "#6b7280", "#059669"), title_font_size=20, label_font_size=13,
              major_label_font_size=13, legend_font_size=14, value_font_size=13)


def _chart(title: str, series: Sequence[tuple[str, list]], *, days: int, percent: bool = False, decimals: int = 0) -> str:
    chart = pygal.Line(style=STYLE, width=960, height=360, show_dots=False, x_title="day", title=title, margin=8,
                       show_minor_x_labels=False, x_labels_major_every=max(days // 9, 1), legend_at_bottom=True,
                       value_formatter=(lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:,.{decimals}f}"),
                       disable_xml_declaration=True)
    chart.x_labels = [str(d) for d in range(days)]
    for name, values in series:
        chart.add(name, values)
    return chart.render(is_unicode=True)


def _daily_delta(values: list[float]) -> list[float]:
    return [values[0]] + [b - a for a, b in zip(values, values[1:])] if values else []


def html_report(*, siloed: dict, omni: dict, logs: dict, summary: dict, design: str) -> str:
    days = summary["days"]
    s_log, o_log = logs["siloed"]["daily"], logs["omni"]["daily"]
    lost = [(p, _daily_delta([d["walk_in_lost"] + d["online_refused"] + d["oversold"] for d in logs[p]["daily"]]))
            for p in ("siloed", "omni")]
    charts = [
        _chart("Lost sales per day (units)", lost, days=days),
        _chart("Fill rate of the day's online orders", [(p, logs[p].get("daily_fill", [])) for p in ("siloed", "omni")],
               days=days, percent=True),
        _chart("Stock by location kind (units)", [
            ("siloed · stores", [d["store_units"] for d in s_log]), ("omni · stores", [d["store_units"] for d in o_log]),
            ("siloed · DC", [d["dc_units"] for d in s_log]), ("omni · DC", [d["dc_units"] for d in o_log])], days=days),
        _chart("Fulfilment cost per online order (orders of the day)",
               [(p, logs[p].get("daily_cost_per_order", [])) for p in ("siloed", "omni")], days=days, decimals=2),
    ]
    rows = []
    for key, label, fmt, lower in ROWS:
        a, b = siloed.get(key), omni.get(key)
        ch = change(a, b)
        good = "" if ch is None or ch == 0 else ("better" if (ch < 0) == lower else "worse")
        rows.append(f"<tr><th scope='row'>{html.escape(label)}</th><td>{html.escape(_fmt(fmt, a))}</td>"
                    f"<td>{html.escape(_fmt(fmt, b))}</td><td class='{good}'>{'' if ch is None else f'{ch:+.1%}'}</td></tr>")
    field = [("lost sales", "lost_sales_change", -0.35, True), ("fulfilment cost per order", "fulfillment_cost_change", -0.18, True),
             ("inventory turnover", "turnover_change", 0.22, False), ("clearance days", "clearance_days_change", -0.40, True)]
    goal_rows = []
    for label, key, target, lower in field:
        got = summary.get(key)
        met = got is not None and ((got <= target) if lower else (got >= target))
        goal_rows.append(f"<tr><th scope='row'>{label}</th><td>{target:+.0%}</td><td>{'—' if got is None else f'{got:+.1%}'}</td>"
                         f"<td class='{'better' if met else 'worse'}'>{'reached' if met else 'not reached'}</td></tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Omni season simulation — siloed vs Omni</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0 auto;max-width:62rem;padding:1rem;color:#111}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}} th,td{{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:right}}
th[scope=row]{{text-align:left;font-weight:normal}} thead th{{text-align:right}} thead th:first-child{{text-align:left}}
.better{{color:#047857;font-weight:600}} .worse{{color:#b91c1c;font-weight:600}}
.charts figure{{margin:0 0 1rem}} .charts svg{{width:100%;height:auto;display:block}}
.meta{{color:#555}} pre{{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}}
</style></head><body>
<h1>Season simulation: siloed vs Omni</h1>
<p class="meta">{days} days · {summary['stores']} stores · {summary['skus']} SKUs · seed {summary['seed']} ·
{summary['orders']} online orders under Omni · both policies saw the same demand (digest {html.escape(summary['demand_digest'])}) ·
{summary['seconds']:.0f} s</p>
<h2>Against the field case</h2>
<table><thead><tr><th>figure</th><th>field case</th><th>this run</th><th></th></tr></thead><tbody>{''.join(goal_rows)}</tbody></table>
<h2>KPIs</h2>
<table><thead><tr><th>KPI</th><th>siloed</th><th>Omni</th><th>change</th></tr></thead><tbody>{''.join(rows)}</tbody></table>
<div class="charts">{''.join(f'<figure>{c}</figure>' for c in charts)}</div>
<h2>How the model works</h2><pre>{html.escape(design)}</pre>
</body></html>"""
