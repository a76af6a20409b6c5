"""Daily history charts as server-side SVG (pygal), readable without JavaScript."""

from __future__ import annotations

from datetime import date

import pygal
from pygal.style import Style

_STYLE = Style(
    background="transparent", plot_background="transparent", foreground="#374151", foreground_strong="#111827",
    foreground_subtle="#e5e7eb", colors=("#0f766e", "#9ca3af"), font_family="Inter, sans-serif",
    label_font_size=11, major_label_font_size=11, legend_font_size=11, value_font_size=10, title_font_size=12,
)


def history_svg(*, title: str, series: list[tuple[date, float | None]], target: float | None, unit: str) -> str:
    chart = pygal.Line(
        style=_STYLE, width=520, height=200, show_dots=False, fill=False, show_legend=target is not None,
        legend_at_bottom=True, legend_at_bottom_columns=2, x_label_rotation=0, show_minor_x_labels=False,
        show_y_guides=True, margin=8, js=[], disable_xml_declaration=True, explicit_size=False, truncate_label=-1,
        print_values=False, allow_interruptions=True, y_title=unit, dynamic_print_values=False,
    )
    chart.title = None
    labels = [d.strftime("%d %b") for d, _ in series]
    chart.x_labels = labels
    step = max(len(labels) // 6, 1)
    chart.x_labels_major = labels[::step]
    values = [None if v is None else round(v, 3) for _, v in series]
    chart.add(title, values)
    if target is not None:
        chart.add("target", [target] * len(series))
    svg = chart.render(is_unicode=True)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{title}: daily history" ', 1)
