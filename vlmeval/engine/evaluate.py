"""`run` and `score` end to end: samples, answers, scoring, report. The CLI's working half."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from vlmeval import console
from vlmeval.backends import make_backend
from vlmeval.backends.base import Backend
from vlmeval.engine.claims import held, try_claim
from vlmeval.engine.memory import collector_running
from vlmeval.engine.plan import BackendCache, RunPlan, check_run_name, default_run_name  # noqa: F401 (old path)
from vlmeval.engine.predictions import read_predictions
from vlmeval.engine.run_folder import (
    MERGE_CLAIM,
    RUN_FILE,
    answering_shard,
    check_merge,
    fingerprint_of_first,
    open_run,
    read_run_file,
    read_run_spec,
    recorded_reply_reading,
    restart,
    run_spec,
    update_run_file,
)
from vlmeval.engine.runner import generate, pending_samples
from vlmeval.engine.samples import DEMO, SampleSet, load_samples
from vlmeval.engine.scored import claim_score_folder, missing_predictions_hint
from vlmeval.engine.scoring import score_answers
from vlmeval.engine.shards import (
    Launcher,
    Placement,
    WorkerResult,
    detect_placement,
    gpu_slice,
    spawn_workers,
    visible_gpus,
)
from vlmeval.engine.store import Answer, AnswerStore, bounded, warn_torn
from vlmeval.engine.subsets import load_selected
from vlmeval.errors import PredictionsError, UsageError
from vlmeval.io import ensure_writable
from vlmeval.reporting.report import (
    build_report,
    incomplete_summary,
    print_report,
    samples_to_redo,
    write_outputs,
)
from vlmeval.run_spec import Invocation, RunSpec
from vlmeval.task import ScoreContext, Task, task_prompt_note

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INCOMPLETE = 3
EXIT_SHARD_FAILED = 4
RETRY_HINT = "re-run the same command to retry them (answers and judge replies so far are kept)"


def run(plan: RunPlan, worker_argv: Sequence[str] = ()) -> int:
    """Generate what is missing, then merge and score; how depends on who launched this process
    (`Launcher`): one function per launch mode below. `worker_argv` is the command line (as given,
    credentials included) that each worker of `--shards N` runs again: how this process executes
    the run, not part of the plan (whose `command`, redacted, is recorded in run.json)."""
    check_run_name(plan.run_name)
    placement = detect_placement()
    if plan.execution.restart and placement.launcher.external:
        raise UsageError(f"--restart under {placement.launcher}: every rank would delete the others' "
                         f"answers; delete {plan.run_dir} once before launching instead")
    sample_set = _open(plan, placement)
    store = AnswerStore(plan.run_dir)
    by_launcher = {Launcher.SINGLE: partial(_run_single, worker_argv=worker_argv), Launcher.SPAWNED: _run_spawned_worker,
                   Launcher.TORCHRUN: _run_launched_shard, Launcher.SLURM: _run_launched_shard}
    return by_launcher[placement.launcher](plan, sample_set, store, placement)


def _open(plan: RunPlan, placement: Placement) -> SampleSet:
    """The samples, and the run folder opened for them (created, or checked against its run.json)."""
    if placement.launcher is not Launcher.SPAWNED:  # its parent said it already
        console.status(f"reading the {plan.task.name} samples from {_data_name(plan.task, plan.data)} ...")
    sample_set = load_selected(plan.task, plan.data, plan.split, plan.limit, plan.subset)
    log.info("read %d samples from %s (split %s)", len(sample_set.samples), sample_set.source, sample_set.split)
    if plan.task.preflight is not None:  # what writing the outputs needs, before any answer
        plan.task.preflight(sample_set.samples, replace(plan.context, data=_local_data(plan.task, plan.data),
                                                        output_dir=plan.run_dir))
    ensure_writable(plan.run_dir)
    if plan.execution.restart and placement.launcher is Launcher.SINGLE:
        restart(plan.run_dir)  # spawned workers find the folder their parent started over
    open_run(plan.run_dir, run_spec(plan, sample_set),
             lambda n: fingerprint_of_first(plan, sample_set, n))
    return sample_set


def _run_single(plan: RunPlan, sample_set: SampleSet, store: AnswerStore, placement: Placement,
                worker_argv: Sequence[str] = ()) -> int:
    """Started by the user: answer here, or start one worker per shard and merge once all return."""
    pending = pending_samples(sample_set.samples, store, placement.shard)
    _say_progress(plan, len(sample_set.samples), len(pending), "")
    if pending and plan.execution.shards is None and _uses_gpus(plan) and "CUDA_VISIBLE_DEVICES" not in os.environ:
        console.status("looking for GPUs ...")  # asks torch, whose import takes seconds
    count = plan.execution.shards or _default_shard_count(plan)
    update_run_file(plan.run_dir, {"sharding": {"shards": count, "launcher": "spawn" if count > 1 else "single",
                                                "gpus_per_shard": plan.execution.gpus_per_shard},
                                   "batching": plan.execution.batching()})
    if count > 1:
        console.status(f"starting {count} shards, each with its own model ...")
        gpus = visible_gpus() if _uses_gpus(plan) else []
        failed = [r for r in spawn_workers(worker_argv, count, gpus, plan.execution.gpus_per_shard) if r.returncode]
        if failed:
            return _report_failed_shards(failed, sample_set, store)
    else:
        _generate_shard(plan, sample_set, store, placement)
    return finish_run(plan, sample_set, store)


def _run_spawned_worker(plan: RunPlan, sample_set: SampleSet, store: AnswerStore, placement: Placement) -> int:
    """A worker of `--shards N`: answer its shard; the parent merges once every worker has returned."""
    _generate_shard(plan, sample_set, store, placement)
    return EXIT_OK


def _run_launched_shard(plan: RunPlan, sample_set: SampleSet, store: AnswerStore, placement: Placement) -> int:
    """One rank of torchrun or Slurm: answer its shard on its local GPUs; the last to finish merges."""
    update_run_file(plan.run_dir, {"sharding": {"shards": placement.shard.count, "launcher": str(placement.launcher),
                                                "gpus_per_shard": plan.execution.gpus_per_shard},
                                   "batching": plan.execution.batching()})
    _select_local_gpus(placement, plan)
    _generate_shard(plan, sample_set, store, placement)
    return _merge_if_last(plan, sample_set, store, placement)


def _merge_if_last(plan: RunPlan, sample_set: SampleSet, store: AnswerStore, placement: Placement) -> int:
    """Under torchrun/Slurm the shard that finds every sample answered merges.

    Each shard closes its answer file before looking, so the last one to finish sees all
    answers; of shards finishing together, the one that creates the merge claim merges.
    """
    where = f"shard {placement.shard.index} of {placement.shard.count} done"
    answered = store.read().answers
    waiting = sum(s.id not in answered for s in sample_set.samples)
    if waiting:
        print(f"{where}; {waiting} samples of other shards still unanswered: a shard that finishes with "
              f"every sample answered merges; if a shard has stopped, re-run it (or the launch) to answer "
              f"them, or score what there is with `vlmeval merge {plan.run_dir}`")
        return EXIT_OK
    claim = plan.run_dir / MERGE_CLAIM
    holder = try_claim(claim)
    if holder is not None:
        print(f"{where}; another shard ({holder.describe()}) is merging")
        return EXIT_OK
    with held(claim):
        return finish_run(plan, sample_set, store)


def _data_name(task: Task, data: str | None) -> str:
    if data == DEMO:
        return "the bundled demo split" if task.data.demo is not None else "the task's demo rows"
    return data if data is not None else f"the hub copy {task.data.hub}"


def _say_progress(plan: RunPlan, owned: int, pending: int, where: str) -> None:
    """What a (resumed) run found and has left to do."""
    if pending < owned:
        todo = f"answering {pending}" if pending else "nothing left to answer"
        console.status(f"kept {owned - pending} of {owned} answers{where} in {plan.run_dir}; {todo}")
    elif pending:
        console.status(f"answering {pending} samples{where}")


def _generate_shard(plan: RunPlan, sample_set: SampleSet, store: AnswerStore, placement: Placement) -> None:
    """Answer this shard's pending samples, holding the shard's claim so nobody answers them twice."""
    shard = placement.shard
    with answering_shard(plan.run_dir, store, shard):
        pending = pending_samples(sample_set.samples, store, shard)
        if placement.is_worker:  # a single process said what the whole run kept before
            owned = sum(shard.owns(s.id) for s in sample_set.samples)
            _say_progress(plan, owned, len(pending), f" (shard {shard.index} of {shard.count})")

        def build_backend() -> Backend:
            cache = plan.execution.backend_cache
            loading = cache is None or not cache.loaded  # the tasks of one command share one load
            if loading:
                where = f" (shard {shard.index} of {shard.count})" if shard.count > 1 else ""
                console.status(f"loading the model {plan.model}{where} ...")
            backend = make_backend(plan.model, plan.backend_options) if cache is None else cache.get(
                plan.model, plan.backend_options, make_backend)
            described = backend.describe()
            if loading:
                log.info("the model is ready: %s", ", ".join(
                    f"{key.replace('_', ' ')} {value}" for key, value in described.items()
                    if value not in (None, False)))
            update_run_file(plan.run_dir, {"backend": described})
            return backend

        with collector_running():  # a model's loop makes cycles of its own (vlmeval.engine.memory)
            summary = generate(pending, build_backend, plan.settings, store, plan.execution.batch_size, shard,
                               plan.execution.show_progress, plan.execution.auto_batch)
        if plan.execution.auto_batch and summary.pending:
            _record_chosen_batch_size(plan.run_dir, summary.batch_size)


def _record_chosen_batch_size(run_dir: Path, size: int) -> None:
    """The size auto batching kept; with several shards, the smallest any of them kept."""
    batching = dict(read_run_file(run_dir).get("batching") or {})
    previous = batching.get("chosen")
    batching["chosen"] = min(size, previous) if isinstance(previous, int) else size
    update_run_file(run_dir, {"batching": batching})


def finish_run(plan: RunPlan, sample_set: SampleSet, store: AnswerStore) -> int:
    """Score every answer the run folder holds and write the report (also `vlmeval.evaluate`'s last step)."""
    answers = store.read().answers
    context = replace(plan.context, data=_local_data(plan.task, plan.data))
    return finish(plan.task, sample_set, answers, plan.model, plan.run_dir, read_run_spec(plan.run_dir), context,
                  charts=plan.execution.charts)


def _uses_gpus(plan: RunPlan) -> bool:
    from vlmeval.backends import backend_kind

    return backend_kind(plan.model)[0].uses_gpus(plan.backend_options)


def _default_shard_count(plan: RunPlan) -> int:
    """One shard per `--gpus-per-shard` visible GPUs; one on a CPU machine or for API models."""
    if not _uses_gpus(plan):
        return 1
    return max(1, len(visible_gpus()) // plan.execution.gpus_per_shard)


def _select_local_gpus(placement: Placement, plan: RunPlan) -> None:
    """Under a launcher, rank r on a node takes GPUs [r*K, (r+1)*K) of those the node shows it."""
    if not _uses_gpus(plan):
        return
    gpus = visible_gpus()
    if len(gpus) > plan.execution.gpus_per_shard:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(
            gpu_slice(gpus, placement.local_rank, plan.execution.gpus_per_shard)
        )


def _report_failed_shards(failed: list[WorkerResult], sample_set: SampleSet, store: AnswerStore) -> int:
    answered = store.read().answers
    missing = [s.id for s in sample_set.samples if s.id not in answered]
    for result in failed:
        console.error_line(f"vlmeval: error: {result.describe()}")
    console.error_line(f"vlmeval: error: {len(missing)} samples have no answer"
                       + (f" (e.g. {', '.join(missing[:5])})" if missing else "")
                       + "; re-run the same command to resume")
    return EXIT_SHARD_FAILED


def score_file(
    task: Task,
    predictions_file: str,
    data: str | None,
    split: str | None,
    limit: int | None,
    output: Path,
    context: ScoreContext,
    label: str | None = None,
    command: str | None = None,
    charts: bool = False,
) -> int:
    """Score a predictions file with no model: every dataset sample without a line is wrong."""
    console.status(f"reading the {task.name} samples from {_data_name(task, data)} ...")
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
        i: bounded(i, p, None if p is not None else "no prediction")
        for i, p in predictions.items()
    }
    ensure_writable(output)
    claim_score_folder(output, task.name, predictions_file, data, split, limit)
    spec = RunSpec(task=task.name, model=f"predictions:{predictions_file}", dataset=sample_set.describe(),
                   predictions_file=predictions_file, run_name=_run_name_of(output, task), label=label,
                   command=command)
    hint = missing_predictions_hint(predictions_file, [s.id for s in sample_set.samples], predictions, RETRY_HINT)
    return finish(task, sample_set, answers, f"predictions:{predictions_file}", output, spec,
                  replace(context, output_dir=output, data=_local_data(task, data)), charts=charts,
                  redo_hint=hint)


def _run_name_of(folder: Path, task: Task) -> str:
    """Runs are written to <output>/<run name>/<task>: the run name of a scored folder likewise."""
    folder = folder.expanduser().resolve()
    return folder.parent.name if folder.name == task.name else folder.name


def finish(
    task: Task,
    sample_set: SampleSet,
    answers: dict[str, Answer],
    model: str,
    folder: Path,
    spec: RunSpec,
    context: ScoreContext,
    charts: bool = False,
    redo_hint: str = RETRY_HINT,
) -> int:
    samples = sample_set.samples
    console.status(f"scoring {len(samples)} samples ...")
    if context.output_dir is None:
        context = replace(context, output_dir=folder)
    if context.answer_reading is None:  # the task's default reading
        context = replace(context, answer_reading=task.answer_reading(None))
    reading = context.answer_reading
    records = score_answers(task, samples, answers, context)
    scored = task.has_targets(samples)
    backend = dict(spec.backend)
    if backend.get("prompt_style") == "task_token":
        backend["task_prompt"] = task_prompt_note(samples)
    spec = replace(spec, backend=backend, reply_reading=context.reply_reading.describe())
    report = build_report(task, records, model, scored, spec)
    if reading is not None:
        report.answer_reading = reading.describe()
    if task.write_artifacts is not None and not scored:
        predictions = [r.prediction for r in records]
        report.artifacts = task.write_artifacts(samples, predictions, context)
    if context.judge is not None:
        report.judge = context.judge.describe()
    write_outputs(folder, records, report, charts=charts)
    print_report(report)
    print(f"results: {folder}")
    print(f"browse the samples: vlmeval view {folder} -o {folder / 'view.html'}")
    if report.complete:
        return EXIT_OK
    console.error_line(f"vlmeval: incomplete: {incomplete_summary(report)}"
                       + (f"; {redo_hint}" if samples_to_redo(report) else ""))
    return EXIT_INCOMPLETE



def _local_data(task: Task, data: str | None) -> str | None:
    """The local path samples were read from (`--data demo` is the task's bundled file)."""
    if data == DEMO:
        return str(task.data.demo) if task.data.demo is not None else None
    return data


def merge(run_dir: Path, context: ScoreContext, answer_reading: str | None = None, charts: bool = False) -> int:
    """Score whatever answers a run folder holds, as the last shard would (`vlmeval merge`), reading
    answers the way `answer_reading` names (None: the task's default)."""
    from vlmeval.registry import load_registry

    recorded = read_run_file(run_dir)
    if not recorded:
        raise UsageError(f"{run_dir}: no {RUN_FILE} here; pass a folder written by `vlmeval run`")
    for key in ("task", "model"):
        if key not in recorded:
            raise UsageError(f"{run_dir / RUN_FILE}: field {key!r} is missing; this is not a run file "
                             f"written by `vlmeval run`")
    spec = read_run_spec(run_dir)
    invocation = spec.invocation or Invocation()
    task = load_registry(invocation.tasks_dirs).get(spec.task)
    sample_set = load_selected(task, invocation.data, invocation.split, invocation.limit, invocation.subset)
    check_merge(run_dir, recorded, task, sample_set,
                lambda n: load_samples(task, invocation.data, invocation.split, n))
    state = AnswerStore(run_dir).read()
    warn_torn(state)
    answers = state.answers
    context = replace(context, data=_local_data(task, invocation.data),
                      answer_reading=task.answer_reading(answer_reading),
                      reply_reading=recorded_reply_reading(spec.reply_reading))
    return finish(task, sample_set, answers, spec.model, run_dir, spec, context, charts=charts)
