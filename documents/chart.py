"""A grouped bar chart as inline SVG, drawn in Python (no JavaScript, no network, no fonts fetched).

Labels come from data (town names, age buckets) and are escaped; numbers are formatted by us.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

FONT = "Noto Serif CJK SC, Source Han Serif SC, serif"
COLOURS = ("#4a6fa5", "#c0392b", "#7f8c8d", "#d4a017")


def _nice_ceiling(value: int) -> int:
    """Smallest of 1/2/5 × 10^k at or above value (axis top)."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def bar_chart_svg(
    rows: Sequence[Mapping[str, Any]],
    *,
    series: Sequence[tuple[str, str]],
    label_key: str = "label",
    width: int = 600,
    height: int = 260,
) -> Markup:
    """Grouped bars: one group per row, one bar per (key, legend label) in `series`."""
    left, right, top, bottom = 44, 12, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((int(row.get(key) or 0) for row in rows for key, _ in series), default=0)
    # Cases are counted in whole numbers: four equal integer steps, never a tick of 1.25 (issue 19).
    step = _nice_ceiling(-(-peak // 4))
    axis_top = step * 4
    parts: list[str] = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'font-family="{FONT}" font-size="12" role="img">'
        )
    ]
    # Grid lines and the value axis.
    for tick in range(5):
        value = step * tick
        y = top + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="#ccc" stroke-width="0.6"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#333">{value}</text>'
        )
    group_w = plot_w / max(len(rows), 1)
    bar_w = min(28.0, group_w * 0.7 / max(len(series), 1))
    for index, row in enumerate(rows):
        group_x = left + group_w * index
        first_x = group_x + (group_w - bar_w * len(series)) / 2
        for series_index, (key, _) in enumerate(series):
            value = int(row.get(key) or 0)
            bar_h = plot_h * value / axis_top
            x = first_x + bar_w * series_index
            y = top + plot_h - bar_h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" '
                f'fill="{COLOURS[series_index % len(COLOURS)]}"/>'
                f'<text x="{x + (bar_w - 2) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                f'font-size="10" fill="#222">{value}</text>'
            )
        parts.append(
            f'<text x="{group_x + group_w / 2:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
            f'fill="#222">{escape(str(row.get(label_key, "")))}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="#333" stroke-width="1"/>'
    )
    # Legend, top right.
    legend_x = width - right - 90 * len(series)
    for series_index, (_, legend) in enumerate(series):
        x = legend_x + 90 * series_index
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{COLOURS[series_index % len(COLOURS)]}"/>'
            f'<text x="{x + 18}" y="18" fill="#222">{escape(legend)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
