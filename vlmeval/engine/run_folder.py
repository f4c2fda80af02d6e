"""A run folder's `run.json`: created by exactly one process, checked by every later one.

`run.json` holds the run's identity (`vlmeval.engine.identity`) and how to load its samples again
(`invocation`, read by `vlmeval merge`), plus what later steps add (sharding, backend).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmeval.engine.claims import create_exclusive, held, try_claim
from vlmeval.engine.identity import DatasetIdentity, IdentityMismatch, RunIdentity, check
from vlmeval.engine.samples import DEMO, SampleSet, load_samples
from vlmeval.engine.shards import Shard
from vlmeval.engine.store import ANSWERS_DIR, AnswerStore
from vlmeval.errors import UsageError, VlmevalError
from vlmeval.io import atomic_write_json, write_error
from vlmeval.reasoning import DEFAULT_TAGS, ReplyReading

if TYPE_CHECKING:
    from vlmeval.engine.evaluate import RunPlan
    from vlmeval.task import Task

RUN_FILE = "run.json"
MERGE_CLAIM = ".merging"
# What `--restart` deletes: every file a run writes into its folder.
_RUN_OUTPUTS = (RUN_FILE, MERGE_CLAIM, "predictions.jsonl", "report.json", "report.md")
# Identity keys of run.json files written before the identity had its own record.
_LEGACY_KEYS = ("model", "generation", "prompt_style")


def read_run_file(run_dir: Path) -> dict[str, Any]:
    """run.json ({} when there is none yet), read strictly (`vlmeval.engine.state`)."""
    from vlmeval.engine.state import read_run_file as read_state

    return read_state(run_dir / RUN_FILE)


def open_run(
    run_dir: Path, identity: RunIdentity, record: Mapping[str, Any],
    fingerprint_of_first: Callable[[int], str | None],
) -> None:
    """Create run.json with `identity`, or refuse unless the one there allows reusing its answers.

    Creation is exclusive, so of two processes starting one folder at once with other settings,
    one creates it and the other finds it and is refused.
    """
    path = run_dir / RUN_FILE
    content = {**record, "identity": identity.to_json()}
    try:
        if create_exclusive(path, json.dumps(content, indent=2, ensure_ascii=False, default=str) + "\n"):
            return
    except OSError as exc:
        raise write_error(path, exc) from exc
    previous = read_run_file(run_dir)
    recorded = previous.get("identity")
    if isinstance(recorded, dict):
        try:
            recorded_identity = RunIdentity.from_json(recorded)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{path}: unreadable identity ({exc}); pass another --run-name, or --restart") from exc
        check(identity, recorded_identity, run_dir, fingerprint_of_first)
        grown = identity.dataset.n_rows >= recorded_identity.dataset.n_rows
    else:
        _check_legacy(previous, record, run_dir)
        grown = True
    # A run with more samples records them, so their answers are checked on the next run too.
    updated = {**previous, **record, "identity": identity.to_json() if grown else recorded}
    if updated != previous:  # a rewrite by every worker could drop what another just added
        atomic_write_json(path, updated)


def _check_legacy(previous: Mapping[str, Any], record: Mapping[str, Any], run_dir: Path) -> None:
    from vlmeval.engine.identity import RESTART_HINT

    for key in _LEGACY_KEYS:
        if key in previous and previous[key] != record.get(key):
            raise IdentityMismatch(f"{run_dir} holds answers of another run: {key} (recorded "
                                   f"{previous[key]!r}, now {record.get(key)!r}); {RESTART_HINT}")
    old, new = previous.get("dataset") or {}, record.get("dataset") or {}
    for key in ("source", "split"):
        if key in old and old[key] != new.get(key):
            raise IdentityMismatch(f"{run_dir} holds answers of another run: --data/--split {key} (recorded "
                                   f"{old[key]!r}, now {new.get(key)!r}); {RESTART_HINT}")


class RunBusy(VlmevalError):
    """Another live process is answering the same shard of the same run folder."""


@contextmanager
def answering_shard(run_dir: Path, store: AnswerStore, shard: Shard) -> Iterator[None]:
    """Hold the shard's claim while answering it: a second process started meanwhile is refused."""
    store.folder.mkdir(parents=True, exist_ok=True)
    claim = store.claim_file(shard.index, shard.count)
    holder = try_claim(claim, guarded=store.shard_file(shard.index, shard.count))
    if holder is not None:
        raise RunBusy(f"{run_dir}: another vlmeval process ({holder.describe()}) is answering "
                      f"shard {shard.index} of {shard.count} of this run; let it finish (it writes the "
                      f"report), or stop it and re-run")
    with held(claim):
        yield


def check_merge(
    run_dir: Path, recorded: Mapping[str, Any], task: Task, sample_set: SampleSet,
    load_first: Callable[[int], SampleSet],
) -> None:
    """`vlmeval merge` scores only answers to the samples and task version the run recorded."""
    identity = recorded.get("identity")
    if not isinstance(identity, dict):
        return  # written before identities were recorded
    why = []
    if identity.get("task_version", task.version) != task.version:
        why.append(f"task {task.name} is at version {task.version}, the run used {identity['task_version']}")
    dataset = identity.get("dataset") or {}
    n, fingerprint = dataset.get("n_rows"), dataset.get("fingerprint")
    if n and fingerprint:
        samples = sample_set.samples if len(sample_set.samples) >= n else load_first(n).samples
        if len(samples) < n or SampleSet(sample_set.source, sample_set.split, samples[:n]).fingerprint() != fingerprint:
            why.append(f"the samples at {sample_set.source} are not those it answered (ids, prompts or targets changed)")
    if why:
        raise IdentityMismatch(f"{run_dir}: cannot merge: {'; '.join(why)}; re-run it with --restart")


def restart(run_dir: Path) -> None:
    """Delete a run's answers and outputs (`--restart`); other files in the folder stay."""
    shutil.rmtree(run_dir / ANSWERS_DIR, ignore_errors=True)
    for name in _RUN_OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)
    for chart in run_dir.glob("chart-*.png"):
        chart.unlink(missing_ok=True)


def update_run_file(run_dir: Path, fields: Mapping[str, Any]) -> None:
    atomic_write_json(run_dir / RUN_FILE, {**read_run_file(run_dir), **fields})


def run_record(plan: RunPlan, sample_set: SampleSet) -> dict[str, Any]:
    """run.json's readable summary, and the `invocation` that `vlmeval merge` loads samples with."""
    return {
        "task": plan.task.name,
        "model": plan.model,
        "dataset": sample_set.describe(),
        "generation": plan.settings.to_dict(),
        "prompt_style": plan.backend_options.prompt_style,
        "reply_reading": plan.context.reply_reading.describe(),
        "invocation": {"data": _data_path(plan.data), "split": plan.split, "limit": plan.limit,
                       "tasks_dirs": list(plan.tasks_dirs)},
    }


def recorded_reply_reading(recorded: Mapping[str, Any]) -> ReplyReading:
    """How the run read its replies (`vlmeval merge` reads them the same way); defaults before it was recorded."""
    stored = recorded.get("reply_reading")
    if not isinstance(stored, dict):
        return ReplyReading()
    return ReplyReading(tags=tuple(stored.get("tags", DEFAULT_TAGS)),  # type: ignore[arg-type]
                        stop=tuple(stored.get("stop", ())), reasoning=bool(stored.get("reasoning")))


def _data_path(data: str | None) -> str | None:
    return data if data in (None, DEMO) else str(Path(data).expanduser().resolve())


def run_identity(plan: RunPlan, sample_set: SampleSet) -> RunIdentity:
    """Everything that decides this run's answers (vlmeval.engine.identity); the backend kind names its part."""
    from vlmeval.backends import backend_kind

    kind, reference = backend_kind(plan.model)
    return RunIdentity.for_backend(
        kind.identity(reference, plan.backend_options),
        task=plan.task.name, task_version=plan.task.version, model=plan.model, backend=kind.name,
        generation=plan.settings.to_dict(),
        dataset=DatasetIdentity(data=_data_path(plan.data), source=sample_set.source, split=sample_set.split,
                                n_rows=len(sample_set.samples), fingerprint=sample_set.fingerprint()),
    )


def fingerprint_of_first(plan: RunPlan, sample_set: SampleSet, n: int) -> str | None:
    """The fingerprint of the first n samples; loads more when this run's --limit is smaller."""
    samples = sample_set.samples
    if len(samples) < n and plan.limit is not None and plan.limit < n:
        samples = load_samples(plan.task, plan.data, plan.split, n).samples
    if len(samples) < n:
        return None
    return SampleSet(sample_set.source, sample_set.split, samples[:n]).fingerprint()
