"""A run folder's `run.json`: created by exactly one process, checked by every later one.

`run.json` holds the run's identity (`vlmeval.engine.identity`) and how to load its samples again
(`invocation`, read by `vlmeval merge`), plus what later steps add (sharding, backend).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlmeval.engine.claims import (
    Holder,
    create_exclusive,
    held,
    is_live,
    read_holder,
    this_process,
    try_claim,
    why_held,
)
from vlmeval.engine.identity import (
    RESTART_HINT,
    DatasetIdentity,
    FirstSamples,
    IdentityMismatch,
    RunIdentity,
    check,
)
from vlmeval.engine.samples import DEMO, SampleSet, load_samples
from vlmeval.engine.shards import Shard
from vlmeval.engine.state import check_fields, read_json_object
from vlmeval.engine.store import ANSWERS_DIR, AnswerStore
from vlmeval.errors import UsageError, VlmevalError
from vlmeval.io import atomic_write_json, write_error
from vlmeval.reasoning import DEFAULT_TAGS, ReplyReading
from vlmeval.run_spec import FIELD_TYPES, Invocation, RunSpec

if TYPE_CHECKING:
    from vlmeval.engine.plan import RunPlan
    from vlmeval.task import Task

RUN_FILE = "run.json"
MERGE_CLAIM = ".merging"
# What `--restart` deletes: every file a run writes into its folder.
_RUN_OUTPUTS = (RUN_FILE, MERGE_CLAIM, "predictions.jsonl", "report.json", "report.md")


def read_run_file(run_dir: Path) -> dict[str, Any]:
    """run.json of a run folder ({} when there is none yet), with the field types the engine reads:
    a damaged one is one line naming it and the field at fault (`vlmeval.engine.state`)."""
    path = run_dir / RUN_FILE
    if not path.is_file():
        return {}
    remedy = "pass another --run-name, or --restart to start over"
    return check_fields(read_json_object(path, "run file", remedy), FIELD_TYPES, (), str(path), remedy)


def open_run(run_dir: Path, spec: RunSpec, fingerprint_of_first: FirstSamples) -> None:
    """Create run.json with `spec`, or refuse unless the identity there allows reusing its answers.

    Creation is exclusive, so of two processes starting one folder at once with other settings,
    one creates it and the other finds it and is refused.
    """
    path = run_dir / RUN_FILE
    me = this_process()
    identity = spec.identity
    assert identity is not None, "a run folder is opened with the run's identity"
    record = spec.to_json()
    content = {**record, "created_by": {"host": me.host, "pid": me.pid, "since": time.time()}}
    try:
        if create_exclusive(path, json.dumps(content, indent=2, ensure_ascii=False, default=str) + "\n"):
            return
    except OSError as exc:
        raise write_error(path, exc) from exc
    previous = read_run_file(run_dir)
    try:
        grown = _check_recorded(run_dir, previous, identity, fingerprint_of_first)
    except IdentityMismatch as mismatch:
        if not _abandoned(run_dir, previous):
            raise
        if _take_over(path, content):
            why = str(mismatch).split(": ", 1)[-1].split(f"; {RESTART_HINT}")[0]
            print(f"vlmeval: note: {run_dir} was started by a run that wrote no answer and has stopped "
                  f"(the model failed to load?); this run takes it over (it recorded {why})", file=sys.stderr)
            return
        return open_run(run_dir, spec, fingerprint_of_first)  # another process took it first
    # A run with more samples records them, so their answers are checked on the next run too.
    recorded = previous.get("identity")
    updated = {**previous, **record, "identity": identity.to_json() if grown else recorded}
    if updated != previous:  # a rewrite by every worker could drop what another just added
        atomic_write_json(path, updated)


def _check_recorded(
    run_dir: Path, previous: Mapping[str, Any], identity: RunIdentity,
    fingerprint_of_first: FirstSamples,
) -> bool:
    """Raise IdentityMismatch unless `previous` allows reusing its answers; whether this run is larger."""
    recorded = previous.get("identity")
    if not isinstance(recorded, dict):
        raise UsageError(f"{run_dir / RUN_FILE}: no run identity (written by a vlmeval before 0.1, or by hand); "
                         f"pass another --run-name, or --restart")
    try:
        recorded_identity = RunIdentity.from_json(recorded)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{run_dir / RUN_FILE}: unreadable identity ({exc}); pass another --run-name, "
                         f"or --restart") from exc
    check(identity, recorded_identity, run_dir, fingerprint_of_first)
    return identity.dataset.n_rows >= recorded_identity.dataset.n_rows


def _abandoned(run_dir: Path, previous: Mapping[str, Any]) -> bool:
    """A folder whose run wrote no answer and can no longer write one: its creator has stopped and
    no shard is claimed (a model that failed to load, a wrong device)."""
    answers = run_dir / ANSWERS_DIR
    if any(f.stat().st_size for f in answers.glob("shard-*.jsonl")) or (run_dir / "report.json").exists():
        return False
    if live_claims(run_dir):
        return False
    creator = previous.get("created_by")
    if not isinstance(creator, dict):
        return True  # written before creators were recorded; no claim is live
    try:
        holder = Holder(str(creator["host"]), int(creator["pid"]), float(creator.get("since", 0.0)))
    except (KeyError, TypeError, ValueError):
        return False
    return holder != this_process() and not is_live(holder, run_dir / RUN_FILE)


def _take_over(path: Path, content: Mapping[str, Any]) -> bool:
    """Replace an abandoned run.json with this run's; False when another process replaced it first."""
    aside = path.parent / f".{path.name}.{uuid.uuid4().hex}.abandoned"
    try:
        path.rename(aside)
    except FileNotFoundError:
        pass
    aside.unlink(missing_ok=True)
    return create_exclusive(path, json.dumps(content, indent=2, ensure_ascii=False, default=str) + "\n")


class RunBusy(VlmevalError):
    """Another live process is answering the same shard of the same run folder."""


@contextmanager
def answering_shard(run_dir: Path, store: AnswerStore, shard: Shard) -> Iterator[None]:
    """Hold the shard's claim while answering it: a second process started meanwhile is refused."""
    store.folder.mkdir(parents=True, exist_ok=True)
    claim = store.claim_file(shard.index, shard.count)
    guarded = store.shard_file(shard.index, shard.count)
    holder = try_claim(claim, guarded=guarded)
    if holder is not None:  # whether that process will write the report is not known here: never promised
        raise RunBusy(f"{run_dir}: another vlmeval process is answering shard {shard.index} of {shard.count} "
                      f"of this run ({why_held(claim, holder, guarded)}); once it has ended, re-run this "
                      f"command to answer what is left and write the report")
    with held(claim):
        yield


def image_fingerprint(task: Task, sample_set: SampleSet) -> str | None:
    """The images of `sample_set` as `task` (at its version) reads them: one memo per task version."""
    return sample_set.image_fingerprint(f"{task.name}-v{task.version}")


def check_merge(
    run_dir: Path, recorded: Mapping[str, Any], task: Task, sample_set: SampleSet,
    load_first: Callable[[int], SampleSet],
) -> None:
    """`vlmeval merge` scores only answers to the samples and task version the run recorded."""
    identity = recorded.get("identity")
    if not isinstance(identity, dict):
        raise UsageError(f"{run_dir / RUN_FILE}: no run identity (written by a vlmeval before 0.1, or by hand); "
                         f"re-run it with --restart")
    why = []
    if identity.get("task_version", task.version) != task.version:
        why.append(f"task {task.name} is at version {task.version}, the run used {identity['task_version']}")
    dataset = identity.get("dataset") or {}
    n, fingerprint = dataset.get("n_rows"), dataset.get("fingerprint")
    if n and fingerprint:
        loaded = sample_set if len(sample_set.samples) >= n else load_first(n)
        first = SampleSet(sample_set.source, sample_set.split, loaded.samples[:n], loaded.files)
        if len(loaded.samples) < n or first.fingerprint() != fingerprint:
            why.append(f"the samples at {sample_set.source} are not those it answered (ids, prompts or targets changed)")
        elif dataset.get("images") is not None and image_fingerprint(task, first) != dataset["images"]:
            # As `run` checks (identity.check): the same questions about other pictures are other samples.
            why.append(f"the images at {sample_set.source} are not those it answered (image bytes changed)")
    if why:
        raise IdentityMismatch(f"{run_dir}: cannot merge: {'; '.join(why)}; re-run it with --restart")


def live_claims(run_dir: Path) -> list[str]:
    """The claims in a run folder held by a process that may still be working, described."""
    answers = run_dir / ANSWERS_DIR
    found = []
    for claim in [*sorted(answers.glob("*.claim")), run_dir / MERGE_CLAIM]:
        holder = read_holder(claim)
        guarded = claim.with_suffix(".jsonl") if claim.suffix == ".claim" else None
        if holder is not None and holder != this_process() and is_live(holder, claim, guarded):
            found.append(why_held(claim, holder, guarded))
    return found


def restart(run_dir: Path) -> None:
    """Delete a run's answers and outputs (`--restart`); other files in the folder stay.

    Refused while another process holds a claim there: deleting the answers it is writing would
    leave that run incomplete and this one mixed with its late answers.
    """
    busy = live_claims(run_dir)
    if busy:
        raise RunBusy(f"--restart: {run_dir} is in use ({busy[0]}); stop that process first, or wait "
                      f"for it to end, then re-run with --restart")
    shutil.rmtree(run_dir / ANSWERS_DIR, ignore_errors=True)
    for name in _RUN_OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)
    for chart in run_dir.glob("chart-*.png"):
        chart.unlink(missing_ok=True)


def update_run_file(run_dir: Path, fields: Mapping[str, Any]) -> None:
    atomic_write_json(run_dir / RUN_FILE, {**read_run_file(run_dir), **fields})


def run_spec(plan: RunPlan, sample_set: SampleSet, identity: RunIdentity | None = None) -> RunSpec:
    """What this run is, as run.json first records it (later steps add sharding and backend); its
    identity is `run_identity`'s unless given. A later run of the folder records its own unset-or-not
    fields over the earlier ones (`open_run`): the latest `--label` renames the run, none keeps it."""
    return RunSpec(
        identity=identity or run_identity(plan, sample_set),
        task=plan.task.name, model=plan.model, dataset=sample_set.describe(), generation=plan.settings.to_dict(),
        prompt_style=plan.backend_options.prompt_style, subset=sample_set.subset,
        invocation=Invocation(_data_path(plan.data), plan.split, plan.limit, tuple(plan.tasks_dirs), plan.subset),
        reply_reading=plan.context.reply_reading.describe(),
        command=plan.command,
        label=plan.label,
    )


def read_run_spec(run_dir: Path) -> RunSpec:
    """The folder's RunSpec, its run name taken from the folder (results/<run name>/<task>)."""
    try:
        spec = RunSpec.from_json(read_run_file(run_dir))
    except ValueError as exc:
        raise UsageError(f"{run_dir / RUN_FILE}: {exc}; pass another --run-name, or --restart") from exc
    return replace(spec, run_name=run_dir.resolve().parent.name)


def recorded_reply_reading(stored: Mapping[str, Any] | None) -> ReplyReading:
    """How the run read its replies (`RunSpec.reply_reading`; `vlmeval merge` reads them the same way);
    the defaults for a run recorded before it was."""
    if not stored:
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
                                n_rows=len(sample_set.samples), fingerprint=sample_set.fingerprint(),
                                images=image_fingerprint(plan.task, sample_set)),
    )


def fingerprint_of_first(plan: RunPlan, sample_set: SampleSet, n: int) -> tuple[str, str | None] | None:
    """The fingerprints (text, images) of the first n samples; loads more when --limit is smaller."""
    samples, files = sample_set.samples, sample_set.files
    if len(samples) < n and plan.limit is not None and plan.limit < n:
        more = load_samples(plan.task, plan.data, plan.split, n)
        samples, files = more.samples, more.files
    if len(samples) < n:
        return None
    first = SampleSet(sample_set.source, sample_set.split, samples[:n], files)
    return first.fingerprint(), image_fingerprint(plan.task, first)
