"""`vlmeval judge-check`: how far a candidate judge agrees with recorded verdicts on a fixed anchor set.

An official judge can be retired (LLaVA-Bench's gpt-4-0314 was, in March 2026), and a new judge moves
every judged number. An anchor set is a task's answers together with the verdicts the official judge
recorded for them (a task ships one as `data/<task>_anchors.json`, its source named in the file). The
check judges the same answers with the candidate through the task's own scorer (same prompt, same
reading), then reports, beside the recorded values: each metric of the task on the anchors, and per
score field the mean absolute difference and the share within one point; with two score fields
(LLaVA-Bench's reference and model), how often the candidate prefers the same answer.

Recorded verdicts come in runs (`recorded[k]` is run k, one value per field of `score_fields`, whose
`{run}` is the run number); the candidate is asked once (run 0) and compared with their mean.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vlmeval.errors import UsageError
from vlmeval.metrics import Missing, Record
from vlmeval.task import Sample, ScoreContext, Task


@dataclass(frozen=True)
class AnchorSet:
    task: str
    recorded_judge: str
    source: str
    score_fields: tuple[str, ...]
    items: list[dict[str, Any]]
    path: str


def load_anchors(task: str, path: str | None = None) -> AnchorSet:
    """The anchor file at `path`, or the one shipped for `task`; a UsageError naming what is wrong."""
    where = path or f"vlmeval_tasks/data/{task}_anchors.json"
    try:
        if path is None:
            text = resources.files("vlmeval_tasks").joinpath("data", f"{task}_anchors.json").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        doc = json.loads(text)
        anchors = AnchorSet(str(doc["task"]), str(doc["recorded_judge"]), str(doc["source"]),
                            tuple(doc["score_fields"]), list(doc["items"]), where)
    except FileNotFoundError:
        raise UsageError(f"no anchor set for task {task} ({where}); pass --anchors FILE") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{where}: not an anchor file ({type(exc).__name__}: {exc})") from None
    if anchors.task != task:
        raise UsageError(f"{where} holds anchors of task {anchors.task}, not {task}")
    return anchors


@dataclass
class CheckResult:
    anchors: AnchorSet
    judge: str
    n: int
    failures: dict[str, int]
    metrics: list[tuple[str, float | None, float | None]]  # name, recorded, candidate (None: missing)
    fields: list[tuple[str, float, float]]  # field, mean |candidate - recorded|, share within 1 point
    same_preference: float | None  # two fields: share of judged anchors ranking the two alike

    def primary_difference(self) -> float | None:
        _, recorded, candidate = self.metrics[0]
        return None if recorded is None or candidate is None else candidate - recorded


def _field(template: str, run: int) -> str:
    return template.format(run=run)


def _recorded_record(sample: Sample, item: dict[str, Any], fields: Sequence[str]) -> Record:
    scores = {_field(f, run): float(value) for run, values in enumerate(item["recorded"])
              for f, value in zip(fields, values, strict=True)}
    return Record(sample.id, sample.text, item["prediction"], scores=scores, meta=sample.meta)


def check(task: Task, samples: Sequence[Sample], anchors: AnchorSet, context: ScoreContext) -> CheckResult:
    """Judge the anchors' answers with `context.judge` through the task's scorer and compare."""
    by_id = {s.id: s for s in samples}
    absent = [str(item["id"]) for item in anchors.items if str(item["id"]) not in by_id]
    if absent:
        raise UsageError(f"{len(absent)} anchors of {anchors.path} are not samples of the data read "
                         f"(e.g. {', '.join(absent[:5])}); pass the task's full data with --data")
    chosen = [by_id[str(item["id"])] for item in anchors.items]
    predictions = [str(item["prediction"]) for item in anchors.items]
    verdicts = task.scorer(chosen, predictions, context)
    candidate = [Record(s.id, s.text, p, scores=v.scores, failure=v.failure, meta=s.meta)
                 for s, p, v in zip(chosen, predictions, verdicts, strict=True)]
    recorded = [_recorded_record(s, item, anchors.score_fields) for s, item in zip(chosen, anchors.items, strict=True)]
    metrics = []
    for metric in task.metrics:
        if metric.scale not in ("percent", "points"):
            continue
        values = [metric.outcome(records) for records in (recorded, candidate)]
        if all(v is None for v in values):
            continue
        recorded_value, candidate_value = (None if v is None or isinstance(v, Missing) else v for v in values)
        metrics.append((metric.name, recorded_value, candidate_value))
    judged = [(c, item) for c, item in zip(candidate, anchors.items, strict=True) if c.failure is None]
    fields, pairs = [], []
    for position, template in enumerate(anchors.score_fields):
        diffs = [abs(c.scores[_field(template, 0)] - statistics.fmean(run[position] for run in item["recorded"]))
                 for c, item in judged]
        if diffs:
            fields.append((_field(template, 0).removesuffix("_run0"), statistics.fmean(diffs),
                           sum(d <= 1.0 for d in diffs) / len(diffs)))
    if len(anchors.score_fields) == 2 and judged:
        first, second = (_field(t, 0) for t in anchors.score_fields)
        for c, item in judged:
            recorded_gap = statistics.fmean(run[1] - run[0] for run in item["recorded"])
            pairs.append(_sign(c.scores[second] - c.scores[first]) == _sign(recorded_gap))
    failures = Counter(str(c.failure) for c in candidate if c.failure)
    return CheckResult(anchors, context.judge.model if context.judge else "?", len(candidate), dict(failures),
                       metrics, fields, sum(pairs) / len(pairs) if pairs else None)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _num(value: float | None) -> str:
    return "missing" if value is None else f"{value:.2f}"


def render(result: CheckResult) -> str:
    a = result.anchors
    failed = sum(result.failures.values())
    lines = [f"## vlmeval judge-check: {a.task}", "",
             f"- Candidate judge: `{result.judge}`; recorded judge: `{a.recorded_judge}`.",
             f"- Anchors: {result.n} answers from {a.path} (source: {a.source}).",
             f"- Judged: {result.n - failed}" + (f"; unusable: {failed} ("
                                                   + ", ".join(f"{k} {v}" for k, v in sorted(result.failures.items()))
                                                   + ")" if failed else "") + ".",
             "", "| metric | recorded | candidate | candidate − recorded |", "|---|---:|---:|---:|"]
    for name, recorded, candidate in result.metrics:
        diff = "—" if recorded is None or candidate is None else f"{candidate - recorded:+.2f}"
        lines.append(f"| {name} | {_num(recorded)} | {_num(candidate)} | {diff} |")
    if result.fields:
        lines += ["", "| score | mean abs. difference (per answer, vs the recorded mean) | within 1 point |",
                  "|---|---:|---:|"]
        lines += [f"| {name} | {mad:.2f} | {share:.0%} |" for name, mad, share in result.fields]
    if result.same_preference is not None:
        lines += ["", (f"Same preference (which answer scores higher, or a tie) as recorded: "
                       f"{result.same_preference:.0%} of the judged anchors.")]
    return "\n".join(lines) + "\n"
