"""report.json, defined once: the typed record of one task run, its schema version and its reader.

`vlmeval.reporting.report` builds a `RunReport` from scored records and the run's `RunSpec`
(embedded whole as `spec`), `vlmeval.engine.evaluate` adds how answers were read, and `compare`,
`leaderboard`, `view` and `trend` read it back with `load_report`, so every field is named in one place. Schema history (docs/reports.md):

- 1: the first written form (an untyped dict). Read as it is; its `prompt_template` (a prose
  sketch of the prompt) is dropped.
- 2: `prompt_example` (the first sample's rendered prompt) replaces `prompt_template`, and
  `identity` is reserved for the run identity.
- 3: this definition: what was run is one `spec` object, the run's `RunSpec` (vlmeval.run_spec)
  written by its own serialiser as in run.json, where versions 1 and 2 kept flat copies (`task`,
  `model`, `dataset`, `generation`, `backend`, `sharding`, `batching`, `predictions_file`,
  `run_name`, `label`, `identity`, `subset`, `reply_reading`, `command`); `subset`'s
  `expected_half_width`, a result, becomes the top-level `expected_half_width`. Older reports are
  read into the same spec (`_spec_of_flat`).

A report without a version, or with a newer one than this vlmeval knows, is refused with one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmeval.errors import VlmevalError
from vlmeval.run_spec import FIELD_TYPES, RunSpec

REPORT_SCHEMA_VERSION = 3
_READABLE = (1, 2, 3)


class ReportError(VlmevalError):
    """A report.json that cannot be read: not JSON, wrong types, or an unknown schema version."""


@dataclass
class Counts:
    """How many samples were answered, failed to generate, had no answer, or could not be used."""

    answered: int = 0
    errors: int = 0
    missing: int = 0
    failures: dict[str, int] = field(default_factory=dict)


@dataclass
class IntervalMethod:
    """How each metric's 95% interval was computed (`ci_method`), keyed by metric name."""

    confidence: float
    seed: int
    method: dict[str, str] = field(default_factory=dict)
    resamples: dict[str, int] = field(default_factory=dict)
    unit: dict[str, str] = field(default_factory=dict)
    n_units: dict[str, int] = field(default_factory=dict)




# {breakdown key: {group: {metric name: value, "n": count}}}
Breakdown = dict[str, dict[str, dict[str, Any]]]


@dataclass
class RunReport:
    """One task run's report: what was run (`spec`, the run's RunSpec) and what it gave. Optional
    fields (None) are left out of report.json."""

    spec: RunSpec
    n_samples: int
    scored: bool
    primary_metric: str
    complete: bool
    counts: Counts
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_n: dict[str, int] = field(default_factory=dict)
    # Metrics with qualifying samples but no value, and why (every input a failure, a zero
    # denominator): never a number; a report with one is not complete.
    missing_metrics: dict[str, str] = field(default_factory=dict)
    breakdown: Breakdown = field(default_factory=dict)
    ci: dict[str, list[float]] = field(default_factory=dict)
    ci_method: IntervalMethod | None = None
    metric_scales: dict[str, str] = field(default_factory=dict)
    breakdown_ci: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    summary: str | None = None
    prompt_example: str | None = None
    # How answers were read (e.g. MMBench: VLMEvalKit's can_infer at a named commit, or `strict`).
    answer_reading: dict[str, Any] | None = None
    artifacts: list[str] | None = None
    # With `--subset`: each percent metric's 95% interval half-width expected at this size for its
    # observed value (the subset itself is `spec.subset`).
    expected_half_width: dict[str, float] | None = None
    judge: dict[str, Any] | None = None
    # Token totals, finish reasons and the share of answers cut by the token limit (`usage_summary`).
    usage: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    schema_version: int = REPORT_SCHEMA_VERSION

    @property
    def task(self) -> str:
        return self.spec.task

    @property
    def model(self) -> str:
        return self.spec.model

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": self.schema_version}
        for name in _FIELDS:
            if name == "schema_version":
                continue
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            out[name] = _plain(value)
        return out

    @classmethod
    def from_json(cls, obj: Any, source: str = "report") -> RunReport:
        """Read a report of any readable schema version; one-line ReportError otherwise."""
        if not isinstance(obj, Mapping):
            raise ReportError(f"{source}: not a vlmeval report (a JSON object is expected)")
        version = obj.get("schema_version")
        if version not in _READABLE:
            hint = ("newer than this vlmeval reads; upgrade vlmeval" if isinstance(version, int)
                    and version > REPORT_SCHEMA_VERSION else "not one vlmeval wrote")
            raise ReportError(f"{source}: report schema_version {version!r} is {hint} "
                              f"(readable: {', '.join(map(str, _READABLE))})")
        required = _REQUIRED if version >= 3 else ("task", "model", *_REQUIRED[1:])
        missing = [name for name in required if name not in obj]
        if missing:
            raise ReportError(f"{source}: report lacks {', '.join(missing)}")
        data = {k: v for k, v in obj.items() if k in _FIELDS}
        if version < 3:
            data["spec"], data["expected_half_width"] = _spec_of_flat(obj)
        try:
            data["spec"] = _read_spec(data["spec"], source)
            data["counts"] = Counts(**data["counts"])
            if data.get("ci_method") is not None:
                data["ci_method"] = IntervalMethod(**data["ci_method"])
            report = cls(**data)
        except TypeError as exc:
            raise ReportError(f"{source}: report has an unexpected field layout ({exc})") from exc
        report.schema_version = REPORT_SCHEMA_VERSION
        _check_types(report, source)
        return report


# The flat run fields of reports before version 3, read into their spec.
_FLAT_SPEC = ("task", "model", "dataset", "generation", "backend", "sharding", "batching", "predictions_file",
              "run_name", "label", "identity", "subset", "reply_reading", "command")


def _spec_of_flat(obj: Mapping[str, Any]) -> tuple[Any, Any]:
    """A version 1 or 2 report's spec (from its flat run fields) and its subset's expected half-widths."""
    flat = {name: obj[name] for name in _FLAT_SPEC if name in obj}
    half_width = None
    if isinstance(flat.get("subset"), Mapping):
        subset = dict(flat["subset"])
        half_width = subset.pop("expected_half_width", None)
        flat["subset"] = subset
    if "seed" in obj and isinstance(flat.get("generation"), Mapping):  # version 1's top-level copy
        flat["generation"] = {"seed": obj["seed"], **flat["generation"]}
    return flat, half_width


def _read_spec(obj: Any, source: str) -> RunSpec:
    """The report's `spec` object, each field of its JSON type (`run_spec.FIELD_TYPES`)."""
    if not isinstance(obj, Mapping):
        raise ReportError(f"{source}: report field 'spec' is not an object")
    for name in ("task", "model"):
        if not isinstance(obj.get(name), str):
            raise ReportError(f"{source}: report field 'spec.{name}' is not a string")
    for name, types in FIELD_TYPES.items():
        value = obj.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            raise ReportError(f"{source}: report field 'spec.{name}' is a {type(value).__name__}, not "
                              f"{' or '.join(t.__name__ for t in types)}")
    try:
        return RunSpec.from_json(obj)
    except ValueError as exc:
        raise ReportError(f"{source}: report field 'spec.identity': {exc}") from exc


def _plain(value: Any) -> Any:
    if isinstance(value, RunSpec):
        return value.to_json()
    if isinstance(value, (Counts, IntervalMethod)):
        return dict(vars(value))
    return value


_FIELDS = tuple(RunReport.__dataclass_fields__)
_OPTIONAL = ("ci_method", "summary", "prompt_example", "answer_reading", "artifacts", "judge",
             "expected_half_width", "usage")
_REQUIRED = ("spec", "n_samples", "scored", "primary_metric", "complete", "counts")
_MAPPINGS = ("metrics", "metrics_n", "missing_metrics", "breakdown", "ci", "metric_scales", "breakdown_ci",
             "versions")


def _check_types(report: RunReport, source: str) -> None:
    """The fields compare and leaderboard compute with must have their types, or the report is refused."""
    if not isinstance(report.primary_metric, str):
        raise ReportError(f"{source}: report field 'primary_metric' is not a string")
    for name in _MAPPINGS:
        if not isinstance(getattr(report, name), Mapping):
            raise ReportError(f"{source}: report field {name!r} is not an object")
    for metric, value in report.metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ReportError(f"{source}: metric {metric!r} is {value!r}, not a finite number")
    if isinstance(report.n_samples, bool) or not isinstance(report.n_samples, int):
        raise ReportError(f"{source}: report field 'n_samples' is not an integer")
    for metric, interval in report.ci.items():  # the leaderboard and charts index [0] and [1]
        if interval is not None and not (isinstance(interval, list) and len(interval) == 2 and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in interval)):
            raise ReportError(f"{source}: ci of {metric!r} is {interval!r}, not a [low, high] pair of numbers")


def load_report(path: Path) -> RunReport:
    """report.json from disk, any readable schema version; one-line ReportError when it cannot be used."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{path}: not a readable report ({exc})") from exc
    except RecursionError:
        raise ReportError(f"{path}: not a readable report (JSON nested too deeply)") from None
    return RunReport.from_json(obj, str(path))
