"""Per-sample records and the pure reductions that turn them into metrics.

The per-sample record is the source of truth: reports, comparisons and leaderboards are
functions of records, so any of them can be recomputed from a predictions.jsonl alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

RECORD_SCHEMA_VERSION = 1

# How a metric's value combines over its resampling units (samples, or the clusters of `Metric.unit`):
# "mean": the mean over units of the reduction of each unit alone (CircularEval: a question counts
# when all its rows are right); "record_mean": the same values weighted by each unit's number of
# records (a share of rows); "sum": their sum (a count); "custom": anything else (MME's points).
Reduces = Literal["mean", "record_mean", "sum", "custom"]


@dataclass(frozen=True)
class Record:
    """One scored sample, as written to predictions.jsonl."""

    id: str
    prompt: str
    prediction: str | None
    answer: Any = None
    target: Any = None
    scores: Mapping[str, float] = field(default_factory=dict)
    failure: str | None = None
    error: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    # The model's whole reply where the task read only part of it (a reasoning block removed, a
    # stop sequence applied), the reasoning's length, and the generation's token accounting.
    raw_prediction: str | None = None
    reasoning_chars: int | None = None
    usage: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        line = {
            "v": RECORD_SCHEMA_VERSION,
            "id": self.id,
            "prompt": self.prompt,
            "prediction": self.prediction,
            "answer": self.answer,
            "target": self.target,
            "scores": dict(self.scores),
            "failure": self.failure,
            "error": self.error,
            "meta": dict(self.meta),
        }
        for name in ("raw_prediction", "reasoning_chars", "usage"):
            if getattr(self, name) is not None:
                line[name] = getattr(self, name)
        return line

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Record:
        return cls(
            id=str(obj["id"]),
            prompt=obj.get("prompt", ""),
            prediction=obj.get("prediction"),
            answer=obj.get("answer"),
            target=obj.get("target"),
            scores=obj.get("scores") or {},
            failure=obj.get("failure"),
            error=obj.get("error"),
            meta=obj.get("meta") or {},
            raw_prediction=obj.get("raw_prediction"),
            reasoning_chars=obj.get("reasoning_chars"),
            usage=obj.get("usage"),
        )


Reduction = Callable[[Sequence[Record]], float]
Predicate = Callable[[Record], bool]


class MetricUndefined(Exception):
    """Raised by a reduction whose value does not exist on the records it was given (a zero
    denominator, as POPE's precision with no predicted yes): the metric is reported missing with
    the exception's message as the reason, never as 0, 100 or NaN."""


@dataclass(frozen=True)
class Missing:
    """A metric without a value, and why: its inputs were all failures, or its denominator is zero."""

    reason: str


# Scales whose value stays a number whatever the inputs: a count of failures is the answer itself.
_COUNTED = ("count",)


def no_valid_input(metric_scale: str, failures: Sequence[str | None]) -> Missing | None:
    """Missing when every input of a metric is a failure (a judge whose every reply was unreadable,
    a model whose every answer was cut): the placeholder scores such samples carry (the official
    [-1, -1], 0.0) would otherwise make a number that looks real. Counts are exempt."""
    if metric_scale in _COUNTED or not failures or not all(failures):
        return None
    counts = Counter(str(f) for f in failures)
    detail = ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))
    return Missing(f"no valid input: all {len(failures)} samples failed ({detail})")


def guarded(scale: str, reduce: Callable[[], float]) -> float | Missing:
    """`reduce()`, or Missing where the reduction says its value does not exist (or is not finite)."""
    try:
        value = reduce()
    except MetricUndefined as exc:
        return Missing(str(exc))
    except ZeroDivisionError:
        return Missing("zero denominator")
    if isinstance(value, float) and not math.isfinite(value) and scale not in _COUNTED:
        return Missing(f"not a finite number ({value})")
    return value


@dataclass(frozen=True)
class PercentMean:
    """The reduction 100 x the mean of one per-sample score field (accuracy when the field is 0/1)."""

    score_field: str

    def __call__(self, records: Sequence[Record]) -> float:
        return 100.0 * sum(r.scores.get(self.score_field, 0.0) for r in records) / len(records)


def percent_mean(score_field: str) -> Reduction:
    return PercentMean(score_field)


@dataclass(frozen=True)
class Metric:
    """A named pure reduction over records.

    `where` selects the records the metric rests on (its n); `unit` names the resampling unit
    for confidence intervals when samples are not independent (CircularEval's questions).
    `reduces` declares how the value combines over those units (see `Reduces`): "mean",
    "record_mean" and "sum" are bootstrapped from per-unit sums in numpy, "custom" gets a
    delete-a-group jackknife (vlmeval.stats.resampling). A metric whose `reduce` is
    `percent_mean(field)` (every `mean_metric`) has `score_field` set from it: its value, in reports,
    comparisons and `compute` alike, and its per-unit sums are read straight from that score column
    (`RecordView.reduce`, the one computation). `scale` says what the number
    is: "percent" (0-100, higher is better), "points" (a task's own scale, higher is better, e.g.
    MME's summed scores), "count" (e.g. unresolved answers) or another name for a number where
    higher is not better ("spread"): leaderboards average only percents, and
    `compare --fail-on-regression` gates only percents and points.
    """

    name: str
    reduce: Reduction
    where: Predicate | None = None
    unit: Callable[[Record], str] | None = None
    score_field: str | None = None  # set from a `percent_mean` reduce; stating it by hand is not needed
    scale: str = "percent"
    reduces: Reduces = "custom"

    def __post_init__(self) -> None:
        derived = self.reduce.score_field if isinstance(self.reduce, PercentMean) else None
        if self.score_field is not None and self.score_field != derived:
            raise ValueError(f"metric {self.name}: score_field {self.score_field!r} is not what its reduce "
                             f"reads; use mean_metric(name, field), which sets both")
        object.__setattr__(self, "score_field", derived)

    def select(self, records: Sequence[Record]) -> list[Record]:
        if self.where is None:
            return list(records)
        return [r for r in records if self.where(r)]

    def compute(self, records: Sequence[Record]) -> float | None:
        """The metric's value, or None when no record qualifies or it is missing (see `outcome`)."""
        value = self.outcome(records)
        return None if value is None or isinstance(value, Missing) else value

    def outcome(self, records: Sequence[Record]) -> float | Missing | None:
        """The value; Missing (with the reason) when every qualifying record is a failure or the
        reduction is undefined on them; None when no record qualifies. The report's computation
        (`vlmeval.stats.resampling.RecordView.outcome`), for one metric."""
        from vlmeval.stats.resampling import RecordView

        view = RecordView(records)
        mask = view.selected(self.where)
        return view.outcome(self, mask) if mask.any() else None


def mean_metric(name: str, score_field: str, where: Predicate | None = None) -> Metric:
    return Metric(name=name, reduce=percent_mean(score_field), where=where, reduces="record_mean")


@dataclass(frozen=True, eq=False)
class MetaEquals:
    """The predicate `meta[key] in values`: a value, not a lambda, so that a whole column of
    records can be tested at once (vlmeval.stats.resampling.RecordView)."""

    key: str
    values: tuple[Any, ...]

    def __call__(self, record: Record) -> bool:
        return record.meta.get(self.key) in self.values


def meta_equals(key: str, *values: Any) -> Predicate:
    return MetaEquals(key, values)


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digits by value: grade2 before grade10 (not grade1, grade10, grade11)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower())
                 for part in re.split(r"(\d+)", text) if part)


def compute_metrics(metrics: Sequence[Metric], records: Sequence[Record]) -> dict[str, float]:
    """Every metric that has at least one qualifying record and a value (full precision), as
    `Metric.compute` gives it, over one shared view of the records."""
    from vlmeval.stats.resampling import RecordView

    view = RecordView(records)
    values: dict[str, float] = {}
    for metric in metrics:
        mask = view.selected(metric.where)
        value = view.outcome(metric, mask) if mask.any() else None
        if value is not None and not isinstance(value, Missing):
            values[metric.name] = value
    return values


def missing_metrics(metrics: Sequence[Metric], records: Sequence[Record]) -> dict[str, str]:
    """{metric name: reason} of every metric with qualifying records but no value."""
    found: dict[str, str] = {}
    for metric in metrics:
        value = metric.outcome(records)
        if isinstance(value, Missing):
            found[metric.name] = value.reason
    return found
