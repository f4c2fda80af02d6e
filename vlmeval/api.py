"""`vlmeval.evaluate`: the engine of `vlmeval run` called from Python, also on a model in memory.

Same prompts, batching, resume (with `output`), scoring and report.json as the command; see
docs/python.md. Under `torch.distributed` call it on every rank: each rank answers a slice,
rank 0 scores and writes, every rank gets the reports back (`vlmeval.engine.in_process`).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from vlmeval.backends.base import Backend, BackendOptions, GenerationSettings
from vlmeval.engine.memory import collector_paused
from vlmeval.errors import UsageError

if TYPE_CHECKING:
    from vlmeval.engine.collective import Ranks
    from vlmeval.judge import Judge
    from vlmeval.reporting.record import RunReport
    from vlmeval.task import Task

DEFAULT_BATCH_SIZE = 8  # as `vlmeval run --batch-size`


@dataclass(frozen=True)
class Evaluation:
    """The reports of one `evaluate` call by task, and the run folders when `output` was given."""

    reports: dict[str, RunReport]
    folders: dict[str, Path] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """{task: {metric: value}} as in each report.json."""
        return {name: dict(report.metrics) for name, report in self.reports.items()}

    def scalars(self, prefix: str = "vlmeval") -> dict[str, float]:
        """Flat names for loggers: `vlmeval/<task>/<metric>`."""
        return {f"{prefix}/{task}/{metric}": value
                for task, metrics in self.metrics.items() for metric, value in metrics.items()}


def evaluate(
    model: str | Any,
    tasks: str | Sequence[str],
    *,
    processor: Any = None,
    data: str | Mapping[str, str] | None = None,
    split: str | None = None,
    limit: int | None = None,
    subset: str | None = None,
    batch_size: int | Literal["auto"] = DEFAULT_BATCH_SIZE,
    output: str | Path | None = None,
    run_name: str | None = None,
    label: str | None = None,
    judge: Judge | None = None,
    max_new_tokens: int | None = None,
    generation: GenerationSettings | None = None,
    backend_options: BackendOptions | None = None,
    tasks_dirs: Sequence[str] = (),
    log_to: str | Sequence[str] | None = None,
    step: int | None = None,
    restart: bool = False,
    show_progress: bool = False,
    quiet: bool = False,
) -> Evaluation:
    """Evaluate `model` on `tasks` with the engine of `vlmeval run`; see docs/python.md.

    `model`: a checkpoint folder or hub id, `demo`, `openai:NAME`, `replay:FILE`, or a loaded
    transformers model (with `processor`), used as it is: not reloaded, copied or moved, its
    modules' train/eval flags and its tokenizer's padding side put back afterwards.
    `output`: where run folders go (`<output>/<run name>/<task>`) and are resumed from; without
    it the runs are written to a temporary folder and only the reports are kept.
    `generation` replaces the decoding settings (its max_new_tokens is then used for every task);
    otherwise greedy with `max_new_tokens` or each task's own limit, as the command.
    `log_to`: `tensorboard:DIR` or `wandb[:PROJECT]`, the metrics logged as scalars at `step`.
    """
    from vlmeval.engine.collective import Ranks
    from vlmeval.engine.in_process import evaluate_in_process
    from vlmeval.engine.plan import Execution, RunPlan, check_run_name
    from vlmeval.engine.runner import AUTO_BATCH_START
    from vlmeval.engine.subsets import subset_size
    from vlmeval.integrations.loggers import check_targets
    from vlmeval.registry import load_registry
    from vlmeval.reasoning import ReplyReading
    from vlmeval.task import ScoreContext

    ranks = Ranks.current()
    targets = [log_to] if isinstance(log_to, str) else list(log_to or [])

    def prepare() -> tuple[list[Task], dict[str, str | None], _ModelSource]:
        """Every check before any work, on every rank: a bad argument stops all ranks alike."""
        sizes = (("batch_size", None if batch_size == "auto" else batch_size), ("limit", limit),
                 ("max_new_tokens", max_new_tokens))
        for name, value in sizes:
            if value is not None and value < 1:
                raise UsageError(f"{name} must be at least 1 (got {value})")
        check_run_name(run_name)
        if subset is not None:
            subset_size(subset, 0)
        if targets:
            check_targets(targets)
        registry = load_registry(list(tasks_dirs))
        chosen = [registry.get(name) for name in ([tasks] if isinstance(tasks, str) else list(tasks))]
        if not chosen:
            raise UsageError("evaluate: tasks names no task")
        source = _ModelSource.of(model, processor, backend_options, label, ranks)
        return chosen, _task_data(chosen, data), source

    selected, paths, source = ranks.everywhere(prepare)
    # Replies are read with the tags the backend counts reasoning tokens by (BackendOptions.reasoning_tags).
    context = ScoreContext(judge=judge, reply_reading=ReplyReading(tags=source.options.reasoning_tags))
    reports: dict[str, RunReport] = {}
    # one call is one command: the collector paused around it as `cli.main` does (vlmeval.engine.memory)
    with _output_folder(output) as folder, _quiet(quiet), collector_paused():
        backend = ranks.everywhere(source.build)
        with source.borrowed(backend):
            for task in selected:
                limit_tokens = max_new_tokens or task.max_new_tokens
                settings = generation or GenerationSettings(max_new_tokens=limit_tokens)
                plan = RunPlan(task=task, model=source.name, data=paths[task.name], split=split, limit=limit,
                               output=folder, run_name=run_name or source.run_name,
                               settings=settings, backend_options=source.options, context=context,
                               execution=Execution(
                                   batch_size=AUTO_BATCH_START if batch_size == "auto" else batch_size,
                                   auto_batch=batch_size == "auto", shards=1, restart=restart,
                                   show_progress=show_progress and ranks.is_root),
                               tasks_dirs=tuple(tasks_dirs), label=label, subset=subset)
                reports[task.name] = evaluate_in_process(plan, backend, ranks, checkpoint=source.checkpoint)
        folders = {name: folder / (run_name or source.run_name) / name for name in reports} if output else {}
    result = Evaluation(reports=reports, folders=folders)
    if targets and ranks.is_root:
        from vlmeval.integrations.loggers import log_scalars

        log_scalars(targets, result.scalars(), step)
    return result


@dataclass
class _ModelSource:
    """What `model` names: how to build its backend, its name in reports, its weights' identity."""

    model: Any
    processor: Any
    options: BackendOptions
    name: str
    run_name: str
    checkpoint: str | None = None  # None: as `vlmeval run` identifies the model string

    @classmethod
    def of(cls, model: Any, processor: Any, options: BackendOptions | None, label: str | None,
           ranks: Ranks) -> _ModelSource:
        from vlmeval.backends.loaded import is_loaded_model, parameter_fingerprint, unwrap
        from vlmeval.engine.plan import default_run_name

        if isinstance(model, str):
            if processor is not None:
                raise UsageError("processor= goes with a model object; "
                                 "a model named by a string loads its own")
            options = options or BackendOptions()
            if ranks.world > 1 and options.device == "auto":  # each rank loads its copy on its own GPU
                options = replace(options, device=_local_device())
            return cls(model, None, options, model, default_run_name(model))
        if not is_loaded_model(model):
            raise UsageError(f"model must be a checkpoint/hub id string or a transformers model, "
                             f"not {type(model).__name__}")
        inner = unwrap(model)
        origin = str(getattr(inner.config, "_name_or_path", "") or type(inner).__name__)
        device = next(inner.parameters()).device
        options = replace(options or BackendOptions(), device=str(device),
                          dtype=str(inner.dtype).removeprefix("torch."))
        name = f"in-memory:{origin}"
        return cls(inner, processor, options, name, default_run_name(label or Path(origin).name or origin),
                   parameter_fingerprint(inner, processor))

    def build(self) -> Backend:
        if isinstance(self.model, str):
            from vlmeval.backends import make_backend

            return make_backend(self.model, self.options)
        from vlmeval.backends.loaded import LoadedModelBackend

        return LoadedModelBackend(self.model, self.processor, self.options, self.name)

    @contextlib.contextmanager
    def borrowed(self, backend: Backend) -> Iterator[None]:
        from vlmeval.backends.loaded import LoadedModelBackend

        if isinstance(backend, LoadedModelBackend):
            with backend.borrowed():
                yield
        else:
            yield


def _local_device() -> str:
    """`cuda:LOCAL_RANK` with CUDA (torchrun, accelerate and DeepSpeed set LOCAL_RANK), else cpu."""
    import os

    import torch

    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu"


def _task_data(tasks: Sequence[Task], data: str | Mapping[str, str] | None) -> dict[str, str | None]:
    """Each task's data path as `--data` gives it (a mapping is `--data TASK=PATH` per task)."""
    from vlmeval.engine.multi import resolve_data

    if data is None:
        values: list[str] = []
    elif isinstance(data, str):
        values = [data]
    else:
        values = [f"{name}={path}" for name, path in data.items()]
    resolved = resolve_data(tasks, values)
    missing = [f"{name}: {item.missing}" for name, item in resolved.items() if item.missing]
    if missing:
        raise UsageError(f"no data for {'; '.join(missing)}")
    return {name: item.path for name, item in resolved.items()}


@contextlib.contextmanager
def _output_folder(output: str | Path | None) -> Iterator[Path]:
    if output is not None:
        yield Path(output).expanduser()
        return
    with tempfile.TemporaryDirectory(prefix="vlmeval-") as folder:
        yield Path(folder)


@contextlib.contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """The report tables `vlmeval run` prints, left out when asked (status lines go to the log)."""
    if not quiet:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield
