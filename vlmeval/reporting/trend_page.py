"""The `vlmeval trend` HTML page: one inline SVG chart per metric and the table, in one file.

Self-contained like `vlmeval view`'s page: no script, no external style or font, so it opens from
a CI artifact or an e-mail. Charts are drawn here as SVG (no matplotlib needed); `--charts` writes
PNG copies with matplotlib.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from vlmeval.reporting.trend import MetricTrend, Point, Trend, cell, mark

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 460, 220, 52, 28, 28, 36
_STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
h2{margin-top:32px}.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:6px}
table{border-collapse:collapse;margin-top:12px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
.up{color:#1e8449;font-weight:600}.down{color:#c0392b;font-weight:600}.note{color:#555}
"""


def render_html(trend: Trend) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>vlmeval trend</title>",
             f"<style>{_STYLE}</style></head><body><h1>vlmeval trend</h1>",
             (f"<p class='note'>Each point is a step's value with its 95% interval. Green ▲ / red ▼: a "
              f"significant move from the previous step; red with <i>below best</i>: significantly below "
              f"the best step so far (paired test on the shared samples, p &lt; {trend.alpha:g}).</p>")]
    for task in trend.tasks:
        series = [m for m in trend.metrics if m.task == task]
        parts.append(f"<h2>{html.escape(task)}</h2><div class='charts'>")
        parts += [f"<figure>{svg_chart(m)}</figure>" for m in series]
        parts.append("</div>")
        parts.append(_table(series))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _table(series: Sequence[MetricTrend]) -> str:
    head = "".join(f"<th>{html.escape(m.metric)}</th>" for m in series)
    rows = []
    for row, point in enumerate(series[0].points):
        cells = "".join(f"<td class='{_css(m.points[row])}'>{html.escape(cell(m.points[row]))}</td>"
                        for m in series)
        rows.append(f"<tr><th>{point.step}</th>{cells}</tr>")
    return f"<table><tr><th>step</th>{head}</tr>{''.join(rows)}</table>"


def _css(point: Point) -> str:
    text = mark(point)
    return "down" if "▼" in text or "below best" in text else "up" if "▲" in text else ""


def svg_chart(metric: MetricTrend) -> str:
    """The metric over steps: a line through the values, a vertical bar for each interval."""
    points = [p for p in metric.points if p.value is not None]
    values = [float(p.value) for p in metric.points if p.value is not None]
    title = html.escape(f"{metric.metric}" + ("" if metric.scale == "percent" else f" ({metric.scale})"))
    if not points:
        return f"<svg width='{WIDTH}' height='40'><text x='8' y='24'>{title}: no values</text></svg>"
    lows = [p.interval[0] if p.interval else v for p, v in zip(points, values)]
    highs = [p.interval[1] if p.interval else v for p, v in zip(points, values)]
    y_min, y_max = min(lows), max(highs)
    if y_max == y_min:
        y_min, y_max = y_min - 1, y_max + 1
    x_min, x_max = points[0].step, points[-1].step
    span_x = (x_max - x_min) or 1

    def x(step: int) -> float:
        return PAD_LEFT + (WIDTH - PAD_LEFT - PAD_RIGHT) * ((step - x_min) / span_x if x_max > x_min else 0.5)

    def y(value: float) -> float:
        return HEIGHT - PAD_BOTTOM - (HEIGHT - PAD_TOP - PAD_BOTTOM) * (value - y_min) / (y_max - y_min)

    out = [(f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' role='img' "
            f"aria-label='{title}'><text x='{PAD_LEFT}' y='18' font-weight='600'>{title}</text>"),
           (f"<line x1='{PAD_LEFT}' y1='{HEIGHT - PAD_BOTTOM}' x2='{WIDTH - PAD_RIGHT}' "
            f"y2='{HEIGHT - PAD_BOTTOM}' stroke='#999'/>")]
    for tick in (y_min, (y_min + y_max) / 2, y_max):
        out.append(f"<text x='{PAD_LEFT - 6}' y='{y(tick) + 4:.1f}' font-size='11' "
                   f"text-anchor='end'>{tick:.1f}</text><line x1='{PAD_LEFT}' y1='{y(tick):.1f}' "
                   f"x2='{WIDTH - PAD_RIGHT}' y2='{y(tick):.1f}' "
                   f"stroke='#eee'/>")
    last_label = float("-inf")
    for point in _tick_points(points):
        if x(point.step) - last_label < 34:  # steps drawn close together: label the first only
            continue
        last_label = x(point.step)
        out.append(f"<text x='{x(point.step):.1f}' y='{HEIGHT - PAD_BOTTOM + 16}' font-size='11' "
                   f"text-anchor='middle'>{point.step}</text>")
    out.append(f"<text x='{(WIDTH + PAD_LEFT) / 2}' y='{HEIGHT - 4}' font-size='11' "
               f"text-anchor='middle'>step</text>")
    path = " ".join(f"{x(p.step):.1f},{y(v):.1f}" for p, v in zip(points, values))
    out.append(f"<polyline points='{path}' fill='none' stroke='#2e86c1' stroke-width='1.5'/>")
    for point, value, low, high in zip(points, values, lows, highs):
        colour = {"down": "#c0392b", "up": "#27ae60"}.get(_css(point), "#2e86c1")
        label = html.escape(f"step {point.step}: {cell(point)}")
        out.append(f"<line x1='{x(point.step):.1f}' y1='{y(low):.1f}' x2='{x(point.step):.1f}' "
                   f"y2='{y(high):.1f}' "
                   f"stroke='{colour}' stroke-width='1.5'/>"
                   f"<circle cx='{x(point.step):.1f}' cy='{y(value):.1f}' r='4' fill='{colour}'>"
                   f"<title>{label}</title></circle>")
    out.append("</svg>")
    return "".join(out)


def _tick_points(points: Sequence[Point], most: int = 8) -> list[Point]:
    """Every step's label when few, else about `most` of them evenly spread."""
    if len(points) <= most:
        return list(points)
    stride = -(-len(points) // most)
    return list(points[::stride])
