"""`run` and `score` end to end: samples, answers, scoring, report. The CLI's working half."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlmeval.backends import BackendOptions, make_backend
from vlmeval.backends.base import Backend, GenerationSettings
from vlmeval.errors import PredictionsError, UsageError
from vlmeval.io import atomic_write_json, ensure_writable
from vlmeval.predictions import read_predictions
from vlmeval.report import build_report, print_report, write_outputs
from vlmeval.runner import Shard, generate, pending_samples
from vlmeval.samples import SampleSet, load_samples
from vlmeval.scoring import score_answers
from vlmeval.store import Answer, AnswerStore
from vlmeval.task import ScoreContext, Task

EXIT_OK = 0
EXIT_INCOMPLETE = 3
RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunPlan:
    task: Task
    model: str
    data: str | None
    split: str | None
    limit: int | None
    output: Path
    run_name: str | None
    batch_size: int
    settings: GenerationSettings
    backend_options: BackendOptions
    shard: Shard = Shard()
    context: ScoreContext = field(default_factory=ScoreContext)
    show_progress: bool = True

    @property
    def run_dir(self) -> Path:
        return self.output / (self.run_name or default_run_name(self.model)) / self.task.name


def default_run_name(model: str) -> str:
    """A stable folder name for a model, so the same command finds (and resumes) its run."""
    base = model.rstrip("/")
    if "/" in base and Path(base).expanduser().exists():
        base = Path(base).name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "model"


def run(plan: RunPlan) -> int:
    """Generate what is missing, then score and report once every sample has an answer."""
    sample_set = load_samples(plan.task, plan.data, plan.split, plan.limit)
    ensure_writable(plan.run_dir)
    store = AnswerStore(plan.run_dir)
    identity = _run_identity(plan, sample_set)
    _check_resume(plan.run_dir, identity)
    pending = pending_samples(sample_set.samples, store, plan.shard)
    backend_info: dict[str, Any] = {}

    def build_backend() -> Backend:
        backend = make_backend(plan.model, plan.backend_options)
        backend_info.update(backend.describe())
        atomic_write_json(plan.run_dir / RUN_FILE, {**identity, "backend": backend_info})
        return backend

    generate(pending, build_backend, plan.settings, store, plan.batch_size, plan.shard, plan.show_progress)
    answers = store.read().answers
    run_info = _run_info(plan.run_dir, identity)
    return finish(plan.task, sample_set, answers, plan.model, plan.run_dir, run_info, plan.context)


def score_file(
    task: Task,
    predictions_file: str,
    data: str | None,
    split: str | None,
    limit: int | None,
    output: Path,
    context: ScoreContext,
) -> int:
    """Score a predictions file with no model: every dataset sample without a line is wrong."""
    sample_set = load_samples(task, data, split, limit)
    predictions = read_predictions(predictions_file)
    known = {s.id for s in sample_set.samples}
    unknown = [i for i in predictions if i not in known]
    if unknown:
        raise PredictionsError(
            f"{predictions_file}: {len(unknown)} ids are not samples of {task.name} "
            f"({sample_set.source}), e.g. {', '.join(unknown[:3])}"
        )
    answers = {
        i: Answer(id=i, prediction=p, error=None if p is not None else "no prediction")
        for i, p in predictions.items()
    }
    ensure_writable(output)
    run_info = {"dataset": sample_set.describe(), "predictions_file": predictions_file}
    return finish(task, sample_set, answers, f"predictions:{predictions_file}", output, run_info,
                  ScoreContext(judge=context.judge, judge_runs=context.judge_runs, output_dir=output))


def finish(
    task: Task,
    sample_set: SampleSet,
    answers: dict[str, Answer],
    model: str,
    folder: Path,
    run_info: dict[str, Any],
    context: ScoreContext,
) -> int:
    samples = sample_set.samples
    if context.output_dir is None:
        context = ScoreContext(judge=context.judge, judge_runs=context.judge_runs, output_dir=folder)
    records = score_answers(task, samples, answers, context)
    scored = task.has_targets(samples)
    report = build_report(task, records, model, scored, run_info)
    if task.write_artifacts is not None and not scored:
        predictions = [r.prediction for r in records]
        report["artifacts"] = task.write_artifacts(samples, predictions, folder)
    if context.judge is not None:
        report["judge"] = context.judge.describe()
    write_outputs(folder, records, report)
    print_report(report)
    print(f"results: {folder}")
    return EXIT_OK if report["complete"] else EXIT_INCOMPLETE


def _run_identity(plan: RunPlan, sample_set: SampleSet) -> dict[str, Any]:
    return {
        "task": plan.task.name,
        "model": plan.model,
        "dataset": sample_set.describe(),
        "generation": plan.settings.to_dict(),
        "prompt_style": plan.backend_options.prompt_style,
    }


_MUST_MATCH = ("model", "generation", "prompt_style")


def _check_resume(run_dir: Path, identity: dict[str, Any]) -> None:
    """Refuse to mix answers from different models or settings in one run folder."""
    path = run_dir / RUN_FILE
    if not path.is_file():
        return
    previous = json.loads(path.read_text(encoding="utf-8"))
    for key in _MUST_MATCH:
        if previous.get(key) != identity[key]:
            raise UsageError(
                f"{run_dir} holds a run with another {key} ({previous.get(key)!r}); "
                f"pass another --run-name or --output, or delete that folder"
            )


def _run_info(run_dir: Path, identity: dict[str, Any]) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    backend = json.loads(path.read_text(encoding="utf-8")).get("backend", {}) if path.is_file() else {}
    return {
        "dataset": identity["dataset"],
        "generation": identity["generation"],
        "seed": identity["generation"]["seed"],
        "backend": backend,
    }

