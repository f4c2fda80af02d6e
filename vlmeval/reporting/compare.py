"""`vlmeval compare RUN_A RUN_B`: per task and metric, B - A with a paired bootstrap and a paired test.

Everything is recomputed from the two predictions.jsonl files with the task's own metrics, so a
comparison is a pure function of the per-sample logs (report.json only names the task).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vlmeval.console import plural
from vlmeval.engine.predictions import parse_line
from vlmeval.errors import UsageError
from vlmeval.metrics import Record
from vlmeval.reporting import escape
from vlmeval.reporting.leaderboard import report_files_under
from vlmeval.reporting.record import RunReport, load_report
from vlmeval.stats.inference import RESAMPLES, SEED
from vlmeval.stats.paired import PairedResult, paired_comparison
from vlmeval.stats.power import minimal_detectable_difference
from vlmeval.stats.resampling import RecordView

GATED_SCALES = ("percent", "points")  # higher is better; other scales (count, spread) are never gated


@dataclass(frozen=True)
class Run:
    """One task run on disk: its report and per-sample records."""

    folder: Path
    report: RunReport
    records: list[Record]

    @property
    def task(self) -> str:
        return self.report.task


def find_reports(path: Path) -> list[Path]:
    """report.json files of a run path: a report file, a run folder, or a folder of run folders."""
    if path.is_file():
        return [path]
    if (path / "report.json").is_file():
        return [path / "report.json"]
    if path.is_dir():
        found = report_files_under(path)
        if found:
            return found
    raise UsageError(f"{path}: no report.json there (give a run folder, a report file or a results folder)")


def load_run(report_path: Path) -> Run:
    report = load_report(report_path)
    predictions = report_path.parent / "predictions.jsonl"
    if not predictions.is_file():
        raise UsageError(f"{report_path}: no predictions.jsonl beside it; comparisons need per-sample records")
    records = []
    with predictions.open("rb") as file:
        for number, line in enumerate(file, 1):
            if line.strip():
                where = f"{predictions}:{number}"
                try:
                    records.append(Record.from_json(parse_line(line, where)))  # type: ignore[arg-type]
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise UsageError(f"{where}: not a record ({type(exc).__name__}: {exc})") from exc
    return Run(report_path.parent, report, records)


def runs_by_task(path: Path) -> dict[str, Run]:
    runs: dict[str, Run] = {}
    for report_path in find_reports(path):
        run = load_run(report_path)
        if run.task in runs:
            raise UsageError(f"{path} holds two runs of task {run.task}: {runs[run.task].folder} and "
                             f"{run.folder}; name one run folder")
        runs[run.task] = run
    return runs


@dataclass
class TaskComparison:
    task: str
    a: Run
    b: Run
    results: list[PairedResult]
    scales: dict[str, str]
    notes: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    label_a: str
    label_b: str
    tasks: list[TaskComparison]
    only_a: list[str]
    only_b: list[str]
    threshold: float | None
    alpha: float
    resamples: int
    gaps: list[str] = field(default_factory=list)

    def status(self, item: TaskComparison, result: PairedResult) -> str:
        """One of: regression (fails the gate), worse or better (significant), higher or lower (a
        significant change of a metric where higher is not better), or "" (within noise)."""
        if result.diff is None or result.test is None or result.test.p_value >= self.alpha:
            return ""
        scale = item.scales.get(result.metric, "percent")
        if scale not in GATED_SCALES:
            return "higher" if result.diff > 0 else "lower"
        if result.diff < 0 and self.threshold is not None and -result.diff > self.threshold:
            return "regression"
        return "better" if result.diff > 0 else "worse"

    def regressions(self) -> list[tuple[str, PairedResult]]:
        return [(t.task, r) for t in self.tasks for r in t.results if self.status(t, r) == "regression"]

    def failures(self) -> list[str]:
        """Why the gate fails: every regression, and every task or sample A answered that B did not
        (work missing from B is not a pass)."""
        if self.threshold is None:
            return []
        dropped = [f"{task} {r.metric} ({r.diff:+.2f})" for task, r in self.regressions()]
        return dropped + self.gaps

    @property
    def exit_code(self) -> int:
        return 1 if self.failures() else 0


def compare(path_a: Path, path_b: Path, registry_dirs: Sequence[str] = (), threshold: float | None = None,
            alpha: float = 0.05, primary_only: bool = False, resamples: int = RESAMPLES,
            seed: int = SEED) -> Comparison:
    from vlmeval.registry import load_registry

    if threshold is not None and not (math.isfinite(threshold) and threshold >= 0):
        raise UsageError(f"--fail-on-regression must be a number of points, 0 or more (got {threshold})")
    runs_a, runs_b = runs_by_task(path_a), runs_by_task(path_b)
    shared = [t for t in runs_a if t in runs_b]
    if not shared:
        raise UsageError(f"{path_a} ({', '.join(runs_a)}) and {path_b} ({', '.join(runs_b)}) share no task")
    registry = load_registry(registry_dirs)
    tasks = []
    for name in shared:
        a, b = runs_a[name], runs_b[name]
        task = registry.get(name)
        metrics = task.metrics[:1] if primary_only else task.metrics
        notes = sample_notes(a, b)
        view_a, view_b = RecordView(a.records), RecordView(b.records)
        try:
            results = [paired_comparison(m, view_a, view_b, resamples, seed) for m in metrics]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"{name}: the task's metrics cannot be recomputed from the records of "
                             f"{a.folder} and {b.folder} (written by another version of the task?): "
                             f"{type(exc).__name__}: {exc}") from exc
        notes += value_notes(a, b, results)
        tasks.append(TaskComparison(name, a, b, results, {m.name: m.scale for m in metrics}, notes))
    only_a = [t for t in runs_a if t not in runs_b]
    only_b = [t for t in runs_b if t not in runs_a]
    gaps = [f"{t} missing from B" for t in only_a]
    gaps += [gap for t in tasks if (gap := coverage_gap(t.task, t.a, t.b))]
    gaps += [f"{t.task} {r.metric} has no value in B ({r.missing_b})" for t in tasks for r in t.results
             if r.missing_b and r.value_a is not None and t.scales.get(r.metric, "percent") in GATED_SCALES]
    return Comparison(str(path_a), str(path_b), tasks, only_a, only_b, threshold, alpha, resamples, gaps)


def coverage_gap(task: str, a: Run, b: Run) -> str | None:
    """A's answered samples that B has no answer for (absent, or its run failed to get one)."""
    answered_b = {r.id for r in b.records if r.prediction is not None}
    answered_a = [r.id for r in a.records if r.prediction is not None]
    missing = sum(i not in answered_b for i in answered_a)
    if not missing:
        return None
    return f"{task}: B answers {len(answered_b)} samples, {missing} of A's {len(answered_a)} answered samples not"


def sample_notes(a: Run, b: Run) -> list[str]:
    """Warnings when the two runs did not ask the same questions the same way."""
    notes = []
    ids_a = {r.id: r for r in a.records}
    ids_b = {r.id: r for r in b.records}
    shared = [i for i in ids_a if i in ids_b]
    only_a, only_b = len(ids_a) - len(shared), len(ids_b) - len(shared)
    if only_a or only_b:
        notes.append(f"different samples: {only_a} ids only in A, {only_b} only in B; "
                     f"compared on the {len(shared)} shared ids (columns A and B: each run's own value)")
    if not shared:
        raise UsageError(f"{a.folder} and {b.folder} share no sample id")
    fingerprint_a = a.report.spec.dataset.get("fingerprint")
    fingerprint_b = b.report.spec.dataset.get("fingerprint")
    if fingerprint_a != fingerprint_b:
        notes.append(f"different dataset fingerprints ({fingerprint_a} vs {fingerprint_b})")
    prompts = sum(ids_a[i].prompt != ids_b[i].prompt for i in shared)
    if prompts:
        notes.append(f"different prompts: {prompts} of {len(shared)} shared samples were asked differently")
    targets = sum(ids_a[i].target != ids_b[i].target for i in shared)
    if targets:
        notes.append(f"different targets: {targets} shared samples have another ground truth")
    style_a = a.report.spec.backend.get("prompt_style")
    style_b = b.report.spec.backend.get("prompt_style")
    if style_a != style_b:
        notes.append(f"different prompt styles ({style_a} vs {style_b})")
    if a.report.spec.generation != b.report.spec.generation:
        notes.append("different generation settings (`spec.generation` in the reports)")
    for side, run in (("A", a), ("B", b)):
        if not run.report.complete:
            notes.append(f"run {side} is incomplete (errors or missing answers are scored wrong)")
        if not run.report.scored:
            notes.append(f"run {side} has no answers to score against")
    return notes


def value_notes(a: Run, b: Run, results: Sequence[PairedResult]) -> list[str]:
    """Flag a report.json whose numbers are not what its records give (edited, or another version)."""
    notes = []
    for side, run in (("A", a), ("B", b)):
        stated = run.report.metrics
        for result in results:
            value = result.value_a if side == "A" else result.value_b
            if result.metric in stated and value is not None and abs(stated[result.metric] - value) > 1e-6:
                notes.append(f"report.json of {side} says {result.metric} = {stated[result.metric]:.4f}, "
                             f"its records give {value:.4f} (the records are used)")
    return notes


def distinct_names(a: Path, b: Path) -> tuple[str, str]:
    """Short names that tell two paths apart: the last parts (at least two) where they differ, e.g.
    results/baselines/demo-sqa and results/demo/sqa give baselines/demo-sqa and demo/sqa."""
    parts_a, parts_b = a.resolve().parts, b.resolve().parts
    for count in range(2, max(len(parts_a), len(parts_b)) + 1):
        name_a, name_b = "/".join(parts_a[-count:]), "/".join(parts_b[-count:])
        if name_a != name_b:
            return name_a, name_b
    return str(a), str(b)


def run_names(a: Run, b: Run) -> tuple[str, str]:
    """How the two runs are named in headings: their labels or run names, or their paths when
    those are the same (a baseline and a new run of the same model)."""
    from vlmeval.reporting.report import run_title

    title_a, title_b = run_title(a.report), run_title(b.report)
    return (title_a, title_b) if title_a != title_b else distinct_names(a.folder, b.folder)


_MARKS = {"regression": "❌ **regression**", "worse": "▼ worse", "better": "▲ better",
          "higher": "▲ higher", "lower": "▼ lower", "": ""}


_cell = escape.markdown


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3g}"


def render_markdown(comparison: Comparison) -> str:
    """The comparison as Markdown, fit for a CI job summary ($GITHUB_STEP_SUMMARY)."""
    c = comparison
    lines = [
        "## vlmeval compare", "",
        f"- **A**: {escape.markdown_code(c.label_a)}",
        f"- **B**: {escape.markdown_code(c.label_b)}",
        (f"- B − A over the samples both runs hold; 95% CI: paired percentile bootstrap "
         f"({c.resamples} resamples, seed {SEED}); p: McNemar's test where every sample is right or "
         f"wrong, a sign-flip permutation test for graded scores, a jackknife z-test for other "
         f"reductions; significant at p < {c.alpha:g}."),
        (f"- MDD: the smallest difference this test detects with 80% power at p < {c.alpha:g} over these "
         f"samples (2.80 standard errors of B − A at alpha 0.05); a smaller true change can go unseen."),
    ]
    if c.threshold is not None:
        lines.append(f"- Gate: fail when a metric drops by more than {plural(c.threshold, 'point')} "
                     f"with p < {c.alpha:g}.")
    for task in c.tasks:
        name_a, name_b = run_names(task.a, task.b)
        lines += ["", f"### {_cell(task.task)}: A = {_cell(name_a)}, B = {_cell(name_b)}", ""]
        lines += [f"> ⚠️ {_cell(note)}" for note in task.notes]
        lines += [f"> ⚠️ {_cell(f'{r.metric} is missing in {side}: {reason}')}" for r in task.results
                  for side, reason in (("A", r.missing_a), ("B", r.missing_b)) if reason]
        if task.notes or any(r.missing_a or r.missing_b for r in task.results):
            lines.append("")
        lines += ["| metric | A | B | B − A | 95% CI | test | p | n | MDD | |",
                  "|---|---:|---:|---:|---|---|---:|---:|---:|---|"]
        for r in task.results:
            interval = f"[{r.interval[0]:+.2f}, {r.interval[1]:+.2f}]" if r.interval else "—"
            test = f"{r.test.name} ({r.test.detail})" if r.test and r.test.detail else (r.test.name if r.test else "—")
            p = _p(r.test.p_value) if r.test else "—"
            scale = task.scales.get(r.metric, "percent")
            name = r.metric if scale == "percent" else f"{r.metric} ({scale})"
            mdd = _number(minimal_detectable_difference(r.interval, c.alpha)) if r.interval else "—"
            shown_a = "missing" if r.missing_a else _number(r.value_a)
            shown_b = "missing" if r.missing_b else _number(r.value_b)
            lines.append(f"| {_cell(name)} | {shown_a} | {shown_b} | "
                         f"{_number(r.diff, True)} | {interval} | {_cell(test)} | {p} | {r.n_shared} | {mdd} | "
                         f"{_MARKS[c.status(task, r)]} |")
    if c.only_a or c.only_b:
        lines += ["", (f"Not compared: tasks only in A: {', '.join(c.only_a) or 'none'}; "
                       f"only in B: {', '.join(c.only_b) or 'none'}.")]
    lines += ["", _verdict(c)]
    return "\n".join(lines) + "\n"


def _verdict(c: Comparison) -> str:
    regressions = c.regressions()
    if c.threshold is None:
        return "No gate (`--fail-on-regression` not given)."
    verdicts = []
    if regressions:
        listed = ", ".join(f"{task} {r.metric} ({r.diff:+.2f})" for task, r in regressions)
        dropped = "1 metric" if len(regressions) == 1 else f"{len(regressions)} metrics"
        verdicts.append(f"**FAIL**: {dropped} dropped by more than {plural(c.threshold, 'point')} "
                        f"with p < {c.alpha:g}: {_cell(listed)}.")
    if c.gaps:
        verdicts.append(f"**FAIL**: B does not cover A's work: {_cell('; '.join(c.gaps))}.")
    if verdicts:
        return "\n\n".join(verdicts)
    return f"**PASS**: no metric dropped by more than {plural(c.threshold, 'point')} with p < {c.alpha:g}."


def write_chart(comparison: Comparison, path: Path) -> None:
    """B - A with its interval per task and metric, coloured by significance."""
    from vlmeval.io import atomic_write_bytes
    from vlmeval.reporting.plots import difference_chart

    labels, differences, intervals, statuses = [], [], [], []
    for task in comparison.tasks:
        for r in task.results:
            if r.diff is None:
                continue
            status = comparison.status(task, r)
            labels.append(f"{task.task} {r.metric}")
            differences.append(r.diff)
            intervals.append(r.interval)
            statuses.append({"worse": "regression", "better": "improvement"}.get(status, status or "same"))
    if len(comparison.tasks) == 1:
        name_a, name_b = run_names(comparison.tasks[0].a, comparison.tasks[0].b)
    else:
        name_a, name_b = distinct_names(Path(comparison.label_a), Path(comparison.label_b))
    title = f"B - A: {name_b} against {name_a}"
    atomic_write_bytes(path, difference_chart(labels, differences, intervals, statuses, title))
