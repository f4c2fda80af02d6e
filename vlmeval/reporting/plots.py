"""PNG charts for reports, comparisons and leaderboards (matplotlib, imported only when drawing).

Figures are drawn on matplotlib's Agg canvas directly (no pyplot): nothing changes the backend or
any global state of a program that imports vlmeval. Labels are drawn as plain text (no mathtext),
so a `$` in a model or category name is just a character.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_LABEL = 48
COLORS = {"regression": "#c0392b", "improvement": "#27ae60", "same": "#7f8c8d"}
PALETTE = ("#2e86c1", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d4ac0d")


def _label(text: Any) -> str:
    text = str(text)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


class _Canvas:
    """A figure on the Agg canvas; `png()` renders it."""

    def __init__(self, width: float, height: float) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.axes = self.figure.add_subplot()

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()


def _plain_text() -> Any:
    import matplotlib

    return matplotlib.rc_context({"text.parse_math": False, "font.size": 9})


def _error(values: Sequence[float | None], intervals: Sequence[Sequence[float] | None]) -> list[list[float]]:
    """Error bar lengths below and above each value (matplotlib's 2 x n `xerr`)."""
    below, above = [], []
    for value, interval in zip(values, intervals):
        if value is None or interval is None:
            below.append(0.0)
            above.append(0.0)
        else:
            below.append(max(0.0, value - interval[0]))
            above.append(max(0.0, interval[1] - value))
    return [below, above]


def bar_chart(labels: Sequence[str], values: Sequence[float | None],
              intervals: Sequence[Sequence[float] | None], title: str, xlabel: str) -> bytes:
    """Horizontal bars, one per label, with their confidence intervals as error bars."""
    with _plain_text():
        canvas = _Canvas(7.0, 1.2 + 0.32 * len(labels))
        axes = canvas.axes
        heights = [v if v is not None else 0.0 for v in values]
        positions = list(range(len(labels)))
        errors = _error(values, intervals)
        bars = axes.barh(positions, heights, xerr=errors, color=PALETTE[0], capsize=2, ecolor="#333333")
        axes.bar_label(bars, labels=[f"{v:.1f}" if v is not None else "n/a" for v in values],
                       label_type="center", color="white", fontsize=8)
        axes.set_yticks(positions, [_label(x) for x in labels])
        axes.invert_yaxis()
        axes.set_xlabel(xlabel)
        axes.set_title(_label(title))
        axes.grid(axis="x", alpha=0.3)
        return canvas.png()


def grouped_bar_chart(categories: Sequence[str], series: Mapping[str, Sequence[float | None]],
                      title: str, xlabel: str) -> bytes:
    """Horizontal bars per category, one colour per series (e.g. per model)."""
    with _plain_text():
        canvas = _Canvas(8.5, min(24.0, 1.4 + 0.12 * len(categories) * max(2, len(series))))
        axes = canvas.axes
        width = 0.8 / max(1, len(series))
        for number, (name, values) in enumerate(series.items()):
            positions = [i + number * width for i in range(len(categories))]
            axes.barh(positions, [v if v is not None else 0.0 for v in values], height=width,
                      label=_label(name), color=PALETTE[number % len(PALETTE)])
        axes.set_yticks([i + 0.4 - width / 2 for i in range(len(categories))],
                        [_label(c) for c in categories])
        axes.invert_yaxis()
        axes.set_xlabel(xlabel)
        axes.set_title(_label(title))
        axes.grid(axis="x", alpha=0.3)
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return canvas.png()


def difference_chart(labels: Sequence[str], differences: Sequence[float],
                     intervals: Sequence[Sequence[float] | None], statuses: Sequence[str],
                     title: str) -> bytes:
    """B - A per metric with its interval; red a significant drop, green a significant gain."""
    with _plain_text():
        canvas = _Canvas(7.5, 1.2 + 0.32 * len(labels))
        axes = canvas.axes
        positions = list(range(len(labels)))
        errors = _error(differences, intervals)
        colours = [COLORS.get(status, COLORS["same"]) for status in statuses]
        axes.barh(positions, differences, xerr=errors, color=colours, capsize=2, ecolor="#333333")
        axes.axvline(0.0, color="black", linewidth=0.8)
        axes.set_yticks(positions, [_label(x) for x in labels])
        axes.invert_yaxis()
        axes.set_xlabel("B - A (points), 95% CI of the paired bootstrap")
        axes.set_title(_label(title))
        axes.grid(axis="x", alpha=0.3)
        return canvas.png()


def line_chart(steps: Sequence[int], values: Sequence[float | None], intervals: Sequence[Sequence[float] | None],
               marks: Sequence[str], title: str, xlabel: str) -> bytes:
    """A metric over steps with its 95% intervals; points with a significant move are coloured."""
    with _plain_text():
        canvas = _Canvas(6.5, 3.2)
        axes = canvas.axes
        shown = [(s, v, i, m) for s, v, i, m in zip(steps, values, intervals, marks) if v is not None]
        xs = [s for s, _, _, _ in shown]
        ys = [v for _, v, _, _ in shown]
        axes.errorbar(xs, ys, yerr=_error(ys, [i for _, _, i, _ in shown]), color=PALETTE[0], capsize=3,
                      marker="o", markersize=4, linewidth=1.2)
        for x, y, _, note in shown:
            if "▼" in note or "below best" in note:
                axes.plot([x], [y], "o", color=COLORS["regression"], markersize=7)
            elif "▲" in note:
                axes.plot([x], [y], "o", color=COLORS["improvement"], markersize=7)
        axes.set_xlabel(xlabel)
        axes.set_title(_label(title))
        axes.grid(alpha=0.3)
        return canvas.png()
