"""One task run inside the caller's process (`vlmeval.evaluate`), alone or on every rank of a job.

The steps of `vlmeval run` (evaluate.run) in the same order and with the same functions: samples,
run folder and identity, the generation loop, scoring and report. Under `torch.distributed`
each rank answers its own slice (the `Shard` of its rank, by sample id) with its own model;
the answers are gathered on rank 0, which writes them into the run folder, scores and writes
the report; every rank gets the report back. Errors on any rank reach all ranks (`Ranks`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from vlmeval.backends.base import Backend
from vlmeval.engine.collective import Ranks
from vlmeval.engine.evaluate import _local_data, finish_run  # the same data path `run` gives scorers
from vlmeval.engine.memory import collector_running
from vlmeval.engine.plan import RunPlan
from vlmeval.engine.run_folder import (
    answering_shard,
    fingerprint_of_first,
    open_run,
    restart,
    run_identity,
    run_spec,
    update_run_file,
)
from vlmeval.engine.runner import generate
from vlmeval.engine.samples import SampleSet
from vlmeval.engine.shards import WHOLE_RUN, Launcher, Shard
from vlmeval.engine.store import Answer, AnswerStore
from vlmeval.engine.subsets import load_selected
from vlmeval.io import ensure_writable
from vlmeval.reporting.record import RunReport, load_report
from vlmeval.task import Sample


def evaluate_in_process(plan: RunPlan, backend: Backend, ranks: Ranks,
                        checkpoint: str | None = None) -> RunReport:
    """Run `plan` with `backend` on every rank of `ranks`; `checkpoint` overrides the weights' identity."""
    sample_set = ranks.everywhere(
        lambda: load_selected(plan.task, plan.data, plan.split, plan.limit, plan.subset))
    answered = ranks.on_root(lambda: _open(plan, sample_set, ranks, checkpoint))
    shard = Shard(ranks.rank, ranks.world)
    pending = [s for s in sample_set.samples if shard.owns(s.id) and s.id not in answered]
    if ranks.world == 1:  # answers go straight into the run folder, as `vlmeval run` writes them
        ranks.everywhere(lambda: _answer_into_run(plan, pending, backend))
        collected: list[list[Answer]] = []
    else:
        collected = ranks.gather(ranks.everywhere(lambda: _answer_privately(plan, pending, backend)))
    return ranks.on_root(lambda: _finish(plan, sample_set, collected, backend))


def _open(plan: RunPlan, sample_set: SampleSet, ranks: Ranks, checkpoint: str | None) -> frozenset[str]:
    """Create or check the run folder (rank 0) and say which samples already have an answer."""
    if plan.task.preflight is not None:  # what writing the outputs needs, before any answer (as `run`)
        plan.task.preflight(sample_set.samples, replace(plan.context, data=_local_data(plan.task, plan.data),
                                                        output_dir=plan.run_dir))
    ensure_writable(plan.run_dir)
    if plan.execution.restart:
        restart(plan.run_dir)
    identity = run_identity(plan, sample_set)
    if checkpoint is not None:
        identity = replace(identity, checkpoint=checkpoint)
    open_run(plan.run_dir, run_spec(plan, sample_set, identity),
             lambda n: fingerprint_of_first(plan, sample_set, n))
    launcher = Launcher.SINGLE if ranks.world == 1 else Launcher.DISTRIBUTED
    update_run_file(plan.run_dir, {"sharding": {"shards": ranks.world, "launcher": launcher.value,
                                                "gpus_per_shard": 1}})
    return frozenset(i for i, answer in AnswerStore(plan.run_dir).read().answers.items() if answer.ok)


def _answer_into_run(plan: RunPlan, pending: Sequence[Sample], backend: Backend) -> None:
    store = AnswerStore(plan.run_dir)
    with answering_shard(plan.run_dir, store, WHOLE_RUN):
        with collector_running():  # a model's loop makes cycles of its own (vlmeval.engine.memory)
            generate(pending, lambda: _described(plan, backend), plan.settings, store, plan.execution.batch_size,
                     WHOLE_RUN, plan.execution.show_progress, plan.execution.auto_batch)


def _answer_privately(plan: RunPlan, pending: Sequence[Sample], backend: Backend) -> list[Answer]:
    """This rank's answers, kept in a folder of its own until rank 0 gathers them."""
    with tempfile.TemporaryDirectory(prefix="vlmeval-rank-") as folder:
        store = AnswerStore(Path(folder))
        with collector_running():
            generate(pending, lambda: backend, plan.settings, store, plan.execution.batch_size, WHOLE_RUN,
                     plan.execution.show_progress, plan.execution.auto_batch)
        return list(store.read().answers.values())


def _finish(plan: RunPlan, sample_set: SampleSet, collected: list[list[Answer]],
            backend: Backend) -> RunReport:
    store = AnswerStore(plan.run_dir)
    if collected:
        with answering_shard(plan.run_dir, store, WHOLE_RUN), store.writer(0, 1) as writer:
            for answers in collected:
                writer.write(answers)
        _described(plan, backend)
    finish_run(plan, sample_set, store)
    return load_report(plan.run_dir / "report.json")


def _described(plan: RunPlan, backend: Backend) -> Backend:
    update_run_file(plan.run_dir, {"backend": backend.describe()})
    return backend
