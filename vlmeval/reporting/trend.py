"""`vlmeval trend RUN_DIR...`: metrics over training steps, with intervals and significant moves.

Runs are ordered by the number in their label (`--label step-2000`, or the run folder's name):
`step-900` comes before `step-1000`. For each task and metric, each step is compared with the
previous step and with the best step so far by the paired test of `compare` (the samples both
runs answered; vlmeval.stats.paired), so a mark means the move is beyond sampling noise at
`alpha`, not that two numbers differ. Best so far applies to metrics where higher is better
(percent and points).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vlmeval.errors import UsageError
from vlmeval.reporting import escape
from vlmeval.reporting.compare import GATED_SCALES, Run, find_reports, load_run
from vlmeval.stats.inference import RESAMPLES, SEED


@dataclass(frozen=True)
class Move:
    """A paired comparison of one step with an earlier one (`against`): B - A and its p-value."""

    against: int
    diff: float
    p_value: float
    significant: bool


@dataclass(frozen=True)
class Point:
    step: int
    label: str
    value: float | None
    interval: tuple[float, float] | None
    vs_previous: Move | None = None
    vs_best: Move | None = None  # only where the best earlier step is not the previous one


@dataclass
class MetricTrend:
    task: str
    metric: str
    scale: str
    points: list[Point] = field(default_factory=list)


@dataclass
class Trend:
    metrics: list[MetricTrend]
    alpha: float

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(m.task for m in self.metrics))


def step_of(label: str | None) -> int | None:
    """The step a label names: its last number (`step-2000`, `ckpt_2000` -> 2000); None without one."""
    found = re.findall(r"\d+", label or "")
    return int(found[-1]) if found else None


def build_trend(paths: Sequence[Path], registry_dirs: Sequence[str] = (), alpha: float = 0.05,
                primary_only: bool = False, resamples: int = RESAMPLES) -> Trend:
    from vlmeval.registry import load_registry

    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must be between 0 and 1 (got {alpha})")
    by_task: dict[str, dict[int, Run]] = defaultdict(dict)
    for path in paths:
        for report_path in find_reports(Path(path)):
            run = load_run(report_path)
            name = run.report.spec.label or run.report.spec.run_name or run.folder.parent.name
            step = step_of(name)
            if step is None:
                raise UsageError(f"{run.folder}: its label {name!r} has no step number; "
                                 f"label runs `--label step-N` to draw a trend")
            if step in by_task[run.task]:
                raise UsageError(f"two runs of {run.task} at step {step}: {by_task[run.task][step].folder} "
                                 f"and {run.folder}")
            by_task[run.task][step] = run
    registry = load_registry(list(registry_dirs))
    metrics = []
    for task_name, runs in by_task.items():
        task = registry.get(task_name)
        ordered = [runs[step] for step in sorted(runs)]
        for metric in task.metrics[:1] if primary_only else task.metrics:
            metrics.append(_metric_trend(task_name, metric, ordered, alpha, resamples))
    return Trend(metrics, alpha)


def _metric_trend(task: str, metric: object, runs: list[Run], alpha: float, resamples: int) -> MetricTrend:
    from vlmeval.metrics import Metric
    from vlmeval.stats.paired import paired_comparison
    from vlmeval.stats.resampling import RecordView

    assert isinstance(metric, Metric)
    views = [RecordView(run.records) for run in runs]
    steps = [step_of(run.report.spec.label or run.report.spec.run_name or run.folder.parent.name) or 0 for run in runs]
    higher_is_better = metric.scale in GATED_SCALES
    trend = MetricTrend(task, metric.name, metric.scale)

    def move(earlier: int, later: int) -> Move | None:
        result = paired_comparison(metric, views[earlier], views[later], resamples, SEED)
        if result.diff is None or result.test is None:
            return None
        return Move(steps[earlier], result.diff, result.test.p_value, result.test.p_value < alpha)

    best: int | None = None
    for index, run in enumerate(runs):
        value = run.report.metrics.get(metric.name)
        ci = run.report.ci.get(metric.name)
        previous = move(index - 1, index) if index else None
        vs_best = move(best, index) if best is not None and best != index - 1 else None
        trend.points.append(Point(steps[index], run.report.spec.label or run.folder.parent.name, value,
                                  (ci[0], ci[1]) if ci else None, previous, vs_best))
        if higher_is_better and value is not None and (best is None or value > (runs[best].report.metrics.get(
                metric.name) or float("-inf"))):
            best = index
    return trend


def mark(point: Point) -> str:
    """▲/▼: a significant move from the previous step; `below best (step N)`: from the best so far."""
    marks = []
    if point.vs_previous is not None and point.vs_previous.significant:
        marks.append("▲" if point.vs_previous.diff > 0 else "▼")
    if point.vs_best is not None and point.vs_best.significant and point.vs_best.diff < 0:
        marks.append(f"below best (step {point.vs_best.against})")
    return " ".join(marks)


def cell(point: Point) -> str:
    if point.value is None:
        return "—"
    text = f"{point.value:.2f}"
    if point.interval is not None:
        text += f" ±{(point.interval[1] - point.interval[0]) / 2:.2f}"
    return f"{text} {mark(point)}".strip()


def render_markdown(trend: Trend) -> str:
    """One table per task: steps down, metrics across, each value with its 95% half-width and marks."""
    lines = ["## vlmeval trend", "",
             (f"Values with the half-width of their 95% interval. ▲/▼: a significant move from the "
              f"previous step; *below best (step N)*: significantly below the best step so far (paired test, "
              f"p < {trend.alpha:g}).")]
    for task in trend.tasks:
        series = [m for m in trend.metrics if m.task == task]
        steps = [p.step for p in series[0].points]
        lines += ["", f"### {escape.markdown(task)}", "",
                  "| step | " + " | ".join(escape.markdown(_name(m)) for m in series) + " |",
                  "|---:|" + "---:|" * len(series)]
        for row, step in enumerate(steps):
            lines.append(f"| {step} | " + " | ".join(cell(m.points[row]) for m in series) + " |")
    return "\n".join(lines) + "\n"


def _name(metric: MetricTrend) -> str:
    return metric.metric if metric.scale == "percent" else f"{metric.metric} ({metric.scale})"


def write_charts(trend: Trend, folder: Path) -> list[Path]:
    """One PNG per task and metric (`--charts DIR`): the value at each step with its 95% interval."""
    from vlmeval.io import atomic_write_bytes
    from vlmeval.reporting.plots import line_chart

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for metric in trend.metrics:
        path = folder / f"trend-{_file_part(metric.task)}-{_file_part(metric.metric)}.png"
        points = metric.points
        atomic_write_bytes(path, line_chart([p.step for p in points], [p.value for p in points],
                                            [p.interval for p in points], [mark(p) for p in points],
                                            f"{metric.task}: {_name(metric)}", "step"))
        written.append(path)
    return written


def _file_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "metric"
