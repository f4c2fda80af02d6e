"""report.json, report.md and the console table: pure functions of the scored records."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmeval.failure import RETRIED_ON_RESUME, Failure
from vlmeval.io import WriteError, atomic_write_json, atomic_write_jsonl, atomic_write_text
from vlmeval.metrics import Missing, Record
from vlmeval.reporting import escape
from vlmeval.reporting.record import Counts, IntervalMethod, RunReport
from vlmeval.run_spec import RunSpec
from vlmeval.task import Task

if TYPE_CHECKING:
    from vlmeval.stats.resampling import RecordView

log = logging.getLogger(__name__)

_VERSIONED = ("vlmeval", "torch", "transformers", "datasets", "pandas", "pillow")


def package_versions() -> dict[str, str]:
    """Versions from package metadata: nothing is imported to read them."""
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def build_report(
    task: Task, records: Sequence[Record], model: str, scored: bool, spec: RunSpec
) -> RunReport:
    """The report of one task run; metrics only when `scored` (the split has answers).

    What was run is `spec`, embedded whole (its task and model those of this report).
    """
    failures = Counter(r.failure for r in records if r.failure)
    report = RunReport(
        spec=replace(spec, task=task.name, model=model),
        n_samples=len(records),
        scored=scored,
        primary_metric=task.primary_metric,
        complete=not any(failures.get(reason) for reason in RETRIED_ON_RESUME),
        counts=Counts(
            answered=sum(r.prediction is not None or r.raw_prediction is not None for r in records),
            errors=failures.get(Failure.ERROR, 0),
            missing=failures.get(Failure.MISSING, 0),
            failures=dict(sorted(failures.items())),
        ),
        prompt_example=records[0].prompt if records else None,
        usage=usage_summary(records),
        versions=package_versions(),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    if scored:
        from vlmeval.stats.resampling import RecordView

        # Each metric's selection is evaluated once and shared with the intervals (VQAv2 val: three
        # predicates over 214k records were evaluated three times each).
        view = RecordView(records)
        for metric in task.metrics:
            mask = view.selected(metric.where)
            if mask.any():
                value = view.outcome(metric, mask)
                if isinstance(value, Missing):
                    report.missing_metrics[metric.name] = value.reason
                else:
                    report.metrics[metric.name] = value
                report.metrics_n[metric.name] = int(mask.sum())
        primary = task.metrics[0]
        report.breakdown = {by: view.grouped(primary, by) for by in task.breakdowns}
        add_intervals(report, task, view)
        if report.spec.subset is not None:
            _add_expected_half_widths(report, task)
        report.complete = report.complete and not report.missing_metrics
        if task.summary_line is not None and primary.name in report.metrics:
            try:
                report.summary = task.summary_line(report.metrics, len(records))
            except KeyError:  # a metric the line names is missing: the table says which and why
                report.summary = None
    return report


def usage_summary(records: Sequence[Record]) -> dict[str, Any] | None:
    """Token totals over the samples that reported them, finish reasons, and truncated answers.

    `truncated_share` is of the answered samples: replies the token limit cut after any reasoning
    (scored as they were). Replies cut inside reasoning are failures (`unfinished_reasoning`).
    """
    reported = [r.usage for r in records if r.usage]
    if not reported:
        return None
    summary: dict[str, Any] = {}
    for name in ("prompt_tokens", "generated_tokens", "reasoning_tokens"):
        counts = [u[name] for u in reported if isinstance(u.get(name), int)]
        if counts:
            summary[name] = sum(counts)
            summary[f"{name}_n"] = len(counts)
    reasons = Counter(str(u["finish_reason"]) for u in reported if u.get("finish_reason") is not None)
    summary["finish_reasons"] = dict(sorted(reasons.items()))
    answered = sum(r.prediction is not None for r in records)
    truncated = sum(bool(u.get("truncated")) for u in reported)
    summary["truncated"] = truncated
    summary["truncated_share"] = truncated / answered if answered else 0.0
    summary["unfinished_reasoning"] = sum(r.failure == Failure.UNFINISHED_REASONING for r in records)
    return summary


def _add_expected_half_widths(report: RunReport, task: Task) -> None:
    """What a subset of this size can resolve: 95% half-width of each percent metric at its n."""
    from vlmeval.engine.subsets import expected_half_width

    percent = {m.name for m in task.metrics if m.scale == "percent"}
    report.expected_half_width = {
        name: round(expected_half_width(value, report.metrics_n[name]), 4)
        for name, value in report.metrics.items() if name in percent and report.metrics_n.get(name)}


def incomplete_summary(report: RunReport) -> str:
    """`3 samples to redo (judge_error 2, missing 1)` and `metric relative missing (why)`: what keeps
    a report from being complete."""
    failures = report.counts.failures
    counts = {reason: failures[reason] for reason in RETRIED_ON_RESUME if failures.get(reason)}
    detail = ", ".join(f"{reason} {n}" for reason, n in counts.items())
    parts = [f"{sum(counts.values())} samples to redo ({detail})"] if counts else []
    by_reason: dict[str, list[str]] = {}
    for name, reason in report.missing_metrics.items():
        by_reason.setdefault(reason, []).append(name)
    parts += [f"{'metric' if len(names) == 1 else 'metrics'} {', '.join(names)} missing: {reason}"
              for reason, names in by_reason.items()]
    return "; ".join(parts)


def samples_to_redo(report: RunReport) -> int:
    """Samples a re-run could still mend (see RETRIED_ON_RESUME)."""
    return sum(report.counts.failures.get(reason, 0) for reason in RETRIED_ON_RESUME)


def add_intervals(report: RunReport, task: Task, view: RecordView) -> None:
    """95% intervals of every metric and breakdown group (vlmeval.stats.resampling), and metric scales."""
    from vlmeval.stats.inference import LEVEL, SEED
    from vlmeval.stats.resampling import breakdown_intervals, metric_intervals

    valued = [m for m in task.metrics if m.name in report.metrics]
    intervals = metric_intervals(valued, view)
    report.ci = {name: [i.low, i.high] for name, i in intervals.items()}
    methods = {"bootstrap": "percentile bootstrap", "jackknife": "delete-a-group jackknife, normal"}
    report.ci_method = IntervalMethod(
        confidence=LEVEL,
        seed=SEED,
        method={name: methods[i.path] for name, i in intervals.items()},
        resamples={name: i.resamples for name, i in intervals.items()},
        unit={name: i.unit for name, i in intervals.items()},
        n_units={name: i.n_units for name, i in intervals.items()},
    )
    report.metric_scales = {m.name: m.scale for m in task.metrics
                            if m.name in report.metrics or m.name in report.missing_metrics}
    primary = task.metrics[0]
    report.breakdown_ci = {
        by: {group: [i.low, i.high] for group, i in breakdown_intervals(primary, by, view).items()
             if report.breakdown[by].get(group, {}).get(primary.name) is not None}
        for by in report.breakdown
    }


def write_outputs(folder: Path, records: Sequence[Record], report: RunReport, charts: bool = False) -> None:
    """predictions.jsonl, report.json and report.md; with `charts`, the breakdown charts beside it
    (opt-in: importing matplotlib and drawing cost more than scoring a small task)."""
    atomic_write_jsonl(folder / "predictions.jsonl", (r.to_json() for r in records))
    atomic_write_json(folder / "report.json", report.to_json())
    drawn = write_charts(folder, report) if charts else {}
    atomic_write_text(folder / "report.md", render_markdown(report, drawn))


def write_charts(folder: Path, report: RunReport) -> dict[str, str]:
    """One bar chart per breakdown beside report.md: {breakdown key: file name}. A chart that cannot
    be drawn is logged and skipped: the report itself is what must not be lost."""
    from vlmeval.extras import plots_or_note

    charts: dict[str, str] = {}
    if not report.breakdown or not plots_or_note("report.md's charts"):
        return charts
    metric = report.primary_metric
    for by, groups in report.breakdown.items():
        if not groups:
            continue
        name = "chart-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", by).strip("-") or "breakdown") + ".png"
        try:
            from vlmeval.io import atomic_write_bytes
            from vlmeval.reporting.plots import bar_chart

            intervals = report.breakdown_ci.get(by, {})
            png = bar_chart(list(groups), [g.get(metric) for g in groups.values()],
                            [intervals.get(group) for group in groups],
                            f"{report.task}: {metric} by {by} ({run_title(report)})", f"{metric}, 95% CI")
            atomic_write_bytes(folder / name, png)
        except WriteError:
            raise  # a full disk is not a chart that cannot be drawn: it stops the run, loudly
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("chart of %s by %s not written: %s", metric, by, exc)
            continue
        charts[by] = name
    return charts


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _fmt_ci(interval: Any) -> str:
    return f"[{interval[0]:.2f}, {interval[1]:.2f}]" if interval else ""


def render_markdown(report: RunReport, charts: Mapping[str, str] | None = None) -> str:
    """The report for people; `charts` ({breakdown key: PNG file beside report.md}) are linked.

    Every name that comes from a user, a checkpoint or a dataset goes through `reporting.escape`.
    """
    md = escape.markdown
    charts = charts or {}
    ci = report.ci
    lines = [f"# {md(report.task)}: {md(run_title(report))}", ""]
    dataset = report.spec.dataset
    lines.append(
        f"{report.n_samples} samples from {md(dataset.get('source', '?'))} "
        f"(split {md(dataset.get('split', '?'))}, fingerprint {md(dataset.get('fingerprint', '?'))})."
    )
    if dataset.get("note"):
        lines += ["", f"Note: {md(str(dataset['note']))}."]
    if repeated_note(report):
        lines.append(md(repeated_note(report)))
    lines.append("")
    if report.scored:
        lines += ["| metric | value | 95% CI | n |", "|---|---:|---:|---:|"]
        for name, value in report.metrics.items():
            lines.append(f"| {md(name)} | {_fmt(value)} | {_fmt_ci(ci.get(name))} "
                         f"| {report.metrics_n.get(name, '')} |")
        for name, reason in report.missing_metrics.items():
            lines.append(f"| {md(name)} | missing: {md(reason)} | | {report.metrics_n.get(name, '')} |")
        if ci:
            lines += ["", "95% CI: bootstrap over samples (over clusters for clustered metrics); "
                      + "`ci_method` in report.json says how each was computed."]
    else:
        lines.append("The split has no answers: no metric is computed.")
    for artifact in report.artifacts or []:
        lines.append(f"\nSubmission file written: {escape.markdown_code(artifact)}.")
    counts = report.counts
    lines += ["", (f"Answered {counts.answered} of {report.n_samples}; "
                   f"errors {counts.errors}, missing {counts.missing}.")]
    if counts.failures:
        listed = ", ".join(f"{md(k)}: {v}" for k, v in counts.failures.items())
        lines.append(f"Scored wrong without a usable answer: {listed}.")
    if (usage := report.usage) and "generated_tokens" in usage:
        lines.append(f"Tokens: {usage.get('prompt_tokens', 0)} prompt, {usage['generated_tokens']} generated"
                     + (f" ({usage['reasoning_tokens']} reasoning)" if "reasoning_tokens" in usage else "")
                     + f"; {usage['truncated']} answers cut by the token limit "
                     f"({usage['truncated_share']:.1%} of those read).")
    for by, groups in report.breakdown.items():
        metric, shown = report.primary_metric, md(report.primary_metric)
        lines += ["", f"## {shown} by {md(by)}", ""]
        if by in charts:  # chart file names are made of [A-Za-z0-9._-] (write_charts)
            lines += [f"![{shown} by {md(by)}]({charts[by]})", ""]
        lines += [f"| {md(by)} | {shown} | 95% CI | n |", "|---|---:|---:|---:|"]
        intervals = report.breakdown_ci.get(by, {})
        for group, values in groups.items():
            value = values.get(metric)
            shown_value = _fmt(value) if value is not None else f"missing: {md(str(values.get('missing')))}"
            lines.append(f"| {md(group)} | {shown_value} | {_fmt_ci(intervals.get(group))} "
                         f"| {values['n']} |")
    if report.summary:
        lines += ["", escape.markdown_code(report.summary)]
    return "\n".join(lines) + "\n"


def repeated_note(report: RunReport) -> str:
    """What the report says of rows whose sample id repeated (made unique by `#2`, `#3`...)."""
    repeated = report.spec.dataset.get("repeated_ids")
    if not isinstance(repeated, dict) or not repeated.get("count"):
        return ""
    shown = ", ".join(map(str, repeated.get("ids", [])[:3]))
    return (f"{repeated['count']} rows repeat an earlier row's sample id and were renamed ({shown}); "
            "each is scored on its own, as the official scorer counts rows.")


def run_title(report: RunReport) -> str:
    """How a run is named to people: its label or run name, with the model where that differs."""
    name = report.spec.label or report.spec.run_name
    return report.model if not name or name == report.model else f"{name} ({report.model})"


def print_report(report: RunReport) -> None:
    from rich.console import Console
    from rich.table import Table

    rich = escape.rich
    console = Console()
    run_name = report.spec.label or report.spec.run_name or report.model
    table = Table(title=rich(f"{report.task}: {run_name}"))  # short: a long title wraps inside the table
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("n", justify="right")
    for name, value in report.metrics.items():
        table.add_row(rich(name), _fmt(value), str(report.metrics_n.get(name, "")))
    for name in report.missing_metrics:
        table.add_row(rich(name), "missing", str(report.metrics_n.get(name, "")))
    if report.metrics or report.missing_metrics:
        console.print(table)
    for name, reason in report.missing_metrics.items():
        print(f"missing: {name}: {reason}")  # plain print: the reason is long
    if run_name != report.model:
        print(f"model: {report.model}")  # plain print: Rich would wrap a long path mid-word
    from vlmeval.console import counts_text

    counts = report.counts
    unusable = sum(counts.failures.values())
    print(f"answered {counts.answered} of {report.n_samples}; errors: {counts.errors}, "
          f"missing: {counts.missing}, unusable answers: {unusable}"
          + (f" ({counts_text(counts.failures)})" if unusable else ""))
    if report.summary:
        print(report.summary)
    if report.spec.dataset.get("note"):
        print(f"note: {report.spec.dataset['note']}")
    if repeated_note(report):
        print(repeated_note(report))
    usage = report.usage or {}
    if usage.get("truncated") or usage.get("unfinished_reasoning"):
        print(f"token limit: {usage.get('truncated', 0)} answers cut ({usage.get('truncated_share', 0):.1%} "
              f"of those answered, scored as they were), {usage.get('unfinished_reasoning', 0)} cut or "
              f"left inside their reasoning (unfinished_reasoning); raise --max-new-tokens or pass --reasoning")
    for artifact in report.artifacts or []:
        print(f"Submission file written: {artifact}")
