"""What one `vlmeval run` of one task is asked to do (`RunPlan`), built by the CLI and read by the
engine (`vlmeval.engine.evaluate`, `vlmeval.engine.run_folder`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vlmeval.backends import BackendOptions, make_backend
from vlmeval.backends.base import Backend, GenerationSettings
from vlmeval.errors import UsageError
from vlmeval.task import ScoreContext, Task


@dataclass(frozen=True)
class Execution:
    """How this process carries a run out: what none of the answers depends on. Only a description
    of it reaches run.json (`sharding`, `batching`); nothing here is part of the run's identity."""

    batch_size: int = 1  # with auto_batch: the size the run starts at (--max-batch-size)
    auto_batch: bool = False  # --batch-size auto: halve on out-of-memory, keep the largest that fits
    shards: int | None = None
    gpus_per_shard: int = 1
    restart: bool = False
    show_progress: bool = True
    charts: bool = False  # `--charts`: report.md's PNG charts
    backend_cache: BackendCache | None = None

    def batching(self) -> dict[str, object]:
        """run.json's `batching` as the run starts; `chosen` is added once auto batching has picked."""
        if self.auto_batch:
            return {"batch_size": "auto", "max_batch_size": self.batch_size}
        return {"batch_size": self.batch_size}


@dataclass(frozen=True)
class RunPlan:
    """What the run is: each field is recorded in its RunSpec (`vlmeval.engine.run_folder.run_spec`)
    or decides where it goes; `execution` says how this process carries it out."""

    task: Task
    model: str
    data: str | None
    split: str | None
    limit: int | None
    output: Path
    run_name: str | None
    settings: GenerationSettings
    backend_options: BackendOptions
    execution: Execution = field(default_factory=Execution)
    context: ScoreContext = field(default_factory=ScoreContext)
    tasks_dirs: tuple[str, ...] = ()
    label: str | None = None  # the run's name in leaderboards (`leaderboard --row label`)
    subset: str | None = None  # `--subset NAME`: a fixed stratified part of the task (engine/subsets.py)
    command: str | None = None  # the command line, redacted (vlmeval.redact): recorded in run.json's spec

    @property
    def run_dir(self) -> Path:
        return self.output / (self.run_name or default_run_name(self.model)) / self.task.name


class BackendCache:
    """Holds the backend once built, so that the tasks of one command share one model load."""

    def __init__(self) -> None:
        self._backend: Backend | None = None

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def get(self, model: str, options: BackendOptions,
            make: Callable[[str, BackendOptions], Backend] = make_backend) -> Backend:
        if self._backend is None:
            self._backend = make(model, options)
        return self._backend


def default_run_name(model: str) -> str:
    """A stable folder name for a model, so the same command finds (and resumes) its run."""
    base = model.rstrip("/")
    if "/" in base and Path(base).expanduser().exists():
        base = Path(base).name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "model"


def check_run_name(name: str | None) -> None:
    """--run-name is one folder inside --output: a path would write (or resume) somewhere else."""
    if name is None:
        return
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name or Path(name).is_absolute():
        raise UsageError(f"--run-name must be a single folder name inside --output, not a path (got {name!r})")
