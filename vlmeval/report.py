"""report.json, report.md and the console table: pure functions of the scored records."""

from __future__ import annotations

import datetime as dt
import platform
import sys
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Mapping, Sequence

from vlmeval.io import atomic_write_json, atomic_write_jsonl, atomic_write_text
from vlmeval.metrics import Record, compute_metrics, grouped
from vlmeval.task import Task

REPORT_SCHEMA_VERSION = 1
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
    task: Task, records: Sequence[Record], model: str, scored: bool, run_info: Mapping[str, Any]
) -> dict[str, Any]:
    """The report of one task run; metrics only when `scored` (the split has answers).

    `run_info` adds what makes the run reproducible: dataset, generation settings, backend.
    """
    failures = Counter(r.failure for r in records if r.failure)
    report: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "task": task.name,
        "model": model,
        "n_samples": len(records),
        "scored": scored,
        "primary_metric": task.primary_metric,
        "metrics": {},
        "metrics_n": {},
        "counts": {
            "answered": sum(r.prediction is not None for r in records),
            "errors": failures.get("error", 0),
            "missing": failures.get("missing", 0),
            "failures": dict(sorted(failures.items())),
        },
        "complete": not failures.get("error") and not failures.get("missing"),
        "breakdown": {},
    }
    if scored:
        report["metrics"] = compute_metrics(task.metrics, records)
        report["metrics_n"] = {
            m.name: len(m.select(records)) for m in task.metrics if m.name in report["metrics"]
        }
        primary = task.metrics[0]
        report["breakdown"] = {by: grouped(primary, by, records) for by in task.breakdowns}
        if task.summary_line is not None:
            report["summary"] = task.summary_line(report["metrics"], len(records))
    report.update(run_info)
    report["prompt_template"] = task.prompt_template
    report["versions"] = package_versions()
    report["command"] = " ".join(sys.argv)
    report["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return report


def write_outputs(folder: Path, records: Sequence[Record], report: Mapping[str, Any]) -> None:
    atomic_write_jsonl(folder / "predictions.jsonl", (r.to_json() for r in records))
    atomic_write_json(folder / "report.json", report)
    atomic_write_text(folder / "report.md", render_markdown(report))


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = [f"# {report['task']}: {report['model']}", ""]
    dataset = report.get("dataset", {})
    lines.append(
        f"{report['n_samples']} samples from {dataset.get('source', '?')} "
        f"(split {dataset.get('split', '?')}, fingerprint {dataset.get('fingerprint', '?')})."
    )
    lines.append("")
    if report["scored"]:
        lines += ["| metric | value | n |", "|---|---:|---:|"]
        for name, value in report["metrics"].items():
            lines.append(f"| {name} | {_fmt(value)} | {report['metrics_n'].get(name, '')} |")
    else:
        lines.append("The split has no answers: no metric is computed.")
    for artifact in report.get("artifacts", []):
        lines.append(f"\nSubmission file written: `{artifact}`.")
    counts = report["counts"]
    lines += ["", f"Answered {counts['answered']} of {report['n_samples']}; "
              f"errors {counts['errors']}, missing {counts['missing']}."]
    if counts["failures"]:
        listed = ", ".join(f"{k}: {v}" for k, v in counts["failures"].items())
        lines.append(f"Scored wrong without a usable answer: {listed}.")
    for by, groups in report.get("breakdown", {}).items():
        metric = report["primary_metric"]
        lines += ["", f"## {metric} by {by}", "", f"| {by} | {metric} | n |", "|---|---:|---:|"]
        for group, values in groups.items():
            lines.append(f"| {group} | {_fmt(values.get(metric))} | {values['n']} |")
    if report.get("summary"):
        lines += ["", f"`{report['summary']}`"]
    return "\n".join(lines) + "\n"


def print_report(report: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{report['task']} - {report['model']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("n", justify="right")
    for name, value in report["metrics"].items():
        table.add_row(name, _fmt(value), str(report["metrics_n"].get(name, "")))
    if report["metrics"]:
        console.print(table)
    counts = report["counts"]
    console.print(
        f"answered {counts['answered']}/{report['n_samples']}, errors {counts['errors']}, "
        f"missing {counts['missing']}, unusable answers {sum(counts['failures'].values())}"
        + (f" {counts['failures']}" if counts["failures"] else ""),
        highlight=False,
    )
    if report.get("summary"):
        print(report["summary"])
    for artifact in report.get("artifacts", []):
        print(f"Submission file written: {artifact}")
