"""`vlmeval leaderboard DIR...`: one table of models x tasks from the report.json files found.

Each cell is the task's primary metric. The average column covers only tasks whose primary metric is
a percentage (`metric_scales` in the report; a report that records no scale is listed, never averaged):
points (MME's perception sum, 0-2000) are never averaged with percents. A model gets an average only
when it has every averaged task, so no model climbs by skipping a hard task; rows are sorted by the
average, then (or without an average column) by the task columns left to right.

With a suite (`--suite NAME`) the columns are the suite's, in its order, each with the metric and
the decimals of the published table it mirrors (a task without reports keeps an empty column);
reports of other tasks are left out, and there is no average column, unless the suite is `ranked`
(the Open VLM Leaderboard's layout): then the average covers every column (a points column as
100 x value / its `points_max`) and the average rank is the mean of a row's rank in each column
(1 = best, ties share the best rank), both only for rows with every column. `--reference` appends the
suite's published rows (`Suite.references`, each naming its source) below the runs, unranked.

A metric a report holds as missing (every input a failure, a zero denominator) is a cell that says
"missing", never a number; the row then has no average.

A row is a model by default; `--row run` makes it a run folder (results/<run name>/<task>) and
`--row label` the `--label` given at run time (the run name where none was), so several runs of one
model (prompt styles, settings, training steps) get a row each instead of the newest alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmeval.errors import UsageError
from vlmeval.reporting.record import ReportError, RunReport, load_report
from vlmeval.suite import ReferenceRow, Suite

UNDECLARED_SCALE = "undeclared"


@dataclass(frozen=True)
class Entry:
    """One run's primary metric on one task, from one report; `row` names the leaderboard row."""

    row: str
    model: str
    task: str
    metric: str
    value: float | None  # None: the metric is missing (`missing` says why); never averaged or ranked
    ci: list[float] | None
    n: int | None
    scale: str
    source: str
    created: str
    breakdown: dict[str, Any]
    missing: str | None = None


@dataclass(frozen=True)
class Column:
    task: str
    metric: str
    scale: str
    label: str | None = None
    decimals: int = 2


@dataclass
class Row:
    name: str  # the model, run name or label (`Leaderboard.row_by`)
    average: float | None
    entries: dict[str, Entry]
    average_rank: float | None = None
    reference: str | None = None  # a published row (`--reference`): where it was published

    @property
    def models(self) -> str:
        """The model(s) behind the row (one unless a label was reused across models)."""
        return ", ".join(sorted({e.model for e in self.entries.values()}))


@dataclass
class Leaderboard:
    columns: list[Column]
    rows: list[Row]
    averaged: list[str]  # tasks in the average column; empty when fewer than two
    warnings: list[str] = field(default_factory=list)
    row_by: str = "model"
    ranked: bool = False  # an average-rank column (a ranked suite)


def _report_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"{path}: no such folder")
    return report_files_under(path)


def report_files_under(folder: Path) -> list[Path]:
    """Every report.json below `folder`, sorted, skipping hidden folders (.git, .cache) inside it."""
    found = folder.rglob("report.json")
    return sorted(p for p in found if not any(x.startswith(".") for x in p.relative_to(folder).parts))


ROW_KINDS = ("model", "run", "label")


def _row_name(report: RunReport, path: Path, row_by: str) -> str:
    """The row a report belongs to; reports written before run names were recorded use the folder."""
    if row_by == "model":
        return report.model
    run_name = report.spec.run_name or path.resolve().parent.parent.name or report.model
    return run_name if row_by == "run" else report.spec.label or run_name


def _entry(path: Path, warnings: list[str], metric_of: dict[str, str | None] | None = None,
           row_by: str = "model") -> Entry | None:
    try:
        report = load_report(path)
    except ReportError as exc:
        warnings.append(f"skipped: {exc}")
        return None
    if metric_of is not None and report.task not in metric_of:
        return None  # not a task of the suite
    metric = (metric_of or {}).get(report.task) or report.primary_metric
    value = report.metrics.get(metric)
    missing = report.missing_metrics.get(metric)
    if value is None and missing is None:
        warnings.append(f"{path}: skipped, no value of its primary metric {metric!r} (unscored split?)")
        return None
    if missing is not None:
        warnings.append(f"{path}: {metric} is missing: {missing}")
    scale = report.metric_scales.get(metric)
    if scale is None:  # written before scales were recorded: never averaged, never guessed from the value
        warnings.append(f"{path}: no recorded scale of {metric!r}; listed as {UNDECLARED_SCALE!r}, not averaged")
        scale = UNDECLARED_SCALE
    return Entry(_row_name(report, path, row_by), report.model, report.task, metric,
                 None if value is None else float(value), report.ci.get(metric), report.metrics_n.get(metric),
                 scale, str(path), report.created, report.breakdown, missing)


def build_leaderboard(paths: Sequence[Path], suite: Suite | None = None, row_by: str = "model",
                      references: bool = False) -> Leaderboard:
    if row_by not in ROW_KINDS:
        raise UsageError(f"unknown row kind {row_by!r} ({', '.join(ROW_KINDS)})")
    warnings: list[str] = []
    metric_of = None if suite is None else {c.task: c.metric for c in suite.columns}
    chosen: dict[tuple[str, str], Entry] = {}
    found = [f for path in paths for f in _report_files(path)]
    if not found:
        raise UsageError(f"no report.json under {', '.join(map(str, paths))}")
    for file in found:
        entry = _entry(file, warnings, metric_of, row_by)
        if entry is None:
            continue
        key = (entry.row, entry.task)
        previous = chosen.get(key)
        if previous is not None:
            newer, older = (entry, previous) if entry.created >= previous.created else (previous, entry)
            hint = "" if row_by == "label" else "; `--row run` or `--row label` gives each run its own row"
            warnings.append(f"{entry.row} on {entry.task}: using {newer.source} (newest), "
                            f"not {older.source}{hint}")
            entry = newer
        chosen[key] = entry
    columns = []
    for task in sorted({e.task for e in chosen.values()}):
        of_task = [e for e in chosen.values() if e.task == task]
        metrics = {e.metric for e in of_task}
        if len(metrics) > 1:
            warnings.append(f"{task}: reports disagree on the primary metric ({', '.join(sorted(metrics))})")
        other = [e.scale for e in of_task if e.scale != "percent"]
        columns.append(Column(task, of_task[0].metric, other[0] if other else "percent"))
    averaged = [c.task for c in columns if c.scale == "percent"]
    if len(averaged) < 2:
        averaged = []
    if suite is not None:
        columns = _suite_columns(suite, columns)
        averaged = [c.task for c in suite.columns if c.points_max is not None or _scale(columns, c.task) == "percent"]
        averaged = averaged if suite.ranked else []
    if references and suite is None:
        raise UsageError("--reference shows a suite's published rows: name the suite with --suite NAME")
    scale_of = {c.task: (c.points_max if c.points_max is not None else 100.0) for c in suite.columns} if suite else {}
    rows = []
    for name in sorted({e.row for e in chosen.values()}):
        entries = {task: e for (row, task), e in chosen.items() if row == name}
        rows.append(Row(name, _average(entries, averaged, scale_of), entries))
    if suite is not None and suite.ranked:
        _rank(rows, averaged)
    rows.sort(key=lambda row: _sort_key(row, columns))
    if references and suite is not None:
        rows += [_reference_row(reference, columns, averaged, scale_of) for reference in suite.references]
    return Leaderboard(columns, rows, averaged, warnings, row_by, ranked=suite is not None and suite.ranked)


def _scale(columns: Sequence[Column], task: str) -> str:
    return next((c.scale for c in columns if c.task == task), "percent")


def _average(entries: dict[str, Entry], averaged: Sequence[str], scale_of: dict[str, float]) -> float | None:
    """The mean over `averaged` (each as a percentage of its scale), for a row that has them all."""
    values = [100.0 * value / scale_of.get(t, 100.0) for t in averaged
              if t in entries and (value := entries[t].value) is not None]  # a missing metric: no average
    return sum(values) / len(values) if averaged and len(values) == len(averaged) else None


def _rank(rows: Sequence[Row], tasks: Sequence[str]) -> None:
    """Each complete row's mean rank over `tasks` (1 = best; equal values share the best rank)."""
    ranks: dict[str, list[int]] = {row.name: [] for row in rows}
    for task in tasks:
        valued = {row.name: value for row in rows if task in row.entries
                  and (value := row.entries[task].value) is not None}  # a missing metric has no rank
        for name, value in valued.items():
            ranks[name].append(1 + sum(v > value for v in valued.values()))
    for row in rows:
        if tasks and len(ranks[row.name]) == len(tasks):
            row.average_rank = sum(ranks[row.name]) / len(tasks)


def _reference_row(reference: ReferenceRow, columns: Sequence[Column], averaged: Sequence[str],
                   scale_of: dict[str, float]) -> Row:
    """A published row: its numbers as entries of the suite's columns, its source kept."""
    entries = {c.task: Entry(reference.label, reference.label, c.task, c.metric, float(reference.values[c.task]),
                             None, None, c.scale, reference.source, "", {})
               for c in columns if c.task in reference.values}
    return Row(reference.label, _average(entries, averaged, scale_of), entries, reference=reference.source)


def _suite_columns(suite: Suite, found: Sequence[Column]) -> list[Column]:
    by_task = {c.task: c for c in found}
    columns = []
    for spec in suite.columns:
        seen = by_task.get(spec.task)
        metric = spec.metric or (seen.metric if seen else "primary")
        columns.append(Column(spec.task, metric, seen.scale if seen else "percent", spec.label, spec.decimals))
    return columns


def _sort_key(row: Row, columns: Sequence[Column]) -> tuple[Any, ...]:
    values = [row.entries[c.task].value if c.task in row.entries else None for c in columns]
    by_columns = [(value is None, -(value or 0.0)) for value in values]
    return (row.average is None, -(row.average or 0.0), *by_columns, row.name)
