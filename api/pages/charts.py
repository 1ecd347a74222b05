"""Small charts drawn on the server as inline SVG (no JavaScript, nothing fetched)."""

from __future__ import annotations

from markupsafe import Markup, escape


def trend_svg(weeks: list[dict], *, width: int = 640, height: int = 220) -> Markup:
    """Cases in and out per week: two lines over the weeks, with the counts on the points."""
    left, right, top, bottom = 36, 12, 24, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1] + [int(w["in"]) for w in weeks] + [int(w["out"]) for w in weeks])
    step = max(1, -(-peak // 4))
    axis_top = step * 4
    n = max(len(weeks), 1)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y(v: int) -> float:
        return top + plot_h - plot_h * v / axis_top

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="每周收案与结案趋势">'
    ]
    for tick in range(5):
        value = step * tick
        parts.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right}" y2="{y(value):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" class="axis">{value}</text>'
        )
    for key, css in (("in", "line-in"), ("out", "line-out")):
        points = " ".join(f"{x(i):.1f},{y(int(w[key])):.1f}" for i, w in enumerate(weeks))
        parts.append(f'<polyline points="{points}" class="{css}"/>')
        for i, w in enumerate(weeks):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(int(w[key])):.1f}" r="3" class="{css}"/>')
            if int(w[key]):
                parts.append(
                    f'<text x="{x(i):.1f}" y="{y(int(w[key])) - 6:.1f}" text-anchor="middle" '
                    f'class="val {css}">{int(w[key])}</text>'
                )
    for i, w in enumerate(weeks):
        label = escape(str(w["week_start"])[5:])
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle" class="axis">{label}</text>'
        )
    parts.append(
        f'<g class="legend"><rect x="{left + 4}" y="4" width="10" height="10" class="line-in"/>'
        f'<text x="{left + 18}" y="13">收案</text>'
        f'<rect x="{left + 58}" y="4" width="10" height="10" class="line-out"/>'
        f'<text x="{left + 72}" y="13">结案</text></g>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def bars_html(counts: dict[str, int]) -> list[dict]:
    """Rows for a CSS bar list: label, count and width in percent of the largest."""
    peak = max(counts.values(), default=0) or 1
    return [{"label": k, "count": v, "pct": round(100 * v / peak)} for k, v in counts.items()]
