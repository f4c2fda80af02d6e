"""Metrics as scalars at a step: `--log-to tensorboard:DIR` and `--log-to wandb[:PROJECT]`.

TensorBoard events are written with `torch.utils.tensorboard` when the tensorboard package is
installed, else with tensorboardX (`pip install vlmeval[log]`). Weights & Biases logs to the run
already started by the caller (a training script's), or starts one in PROJECT; `WANDB_MODE=offline`
keeps it on disk.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

from vlmeval.errors import UsageError

KINDS = ("tensorboard", "wandb")


def check_targets(targets: Sequence[str]) -> None:
    """A one-line error for an unknown kind or a missing package, before any model work."""
    for target in targets:
        kind, _, where = target.partition(":")
        if kind not in KINDS:
            raise UsageError(f"--log-to {target}: use tensorboard:DIR or wandb[:PROJECT]")
        if kind == "tensorboard" and not where:
            raise UsageError(f"--log-to {target}: name the folder, e.g. tensorboard:runs/eval")
        if kind == "tensorboard" and not _has_tensorboard():
            raise UsageError(f"--log-to {target} needs tensorboard or tensorboardX "
                             "(pip install 'vlmeval[log]')")
        if kind == "wandb" and importlib.util.find_spec("wandb") is None:
            raise UsageError(f"--log-to {target} needs the wandb package (pip install wandb)")


def log_scalars(targets: Sequence[str], scalars: Mapping[str, float], step: int | None) -> None:
    """Write every scalar at `step` (0 when None) to each target."""
    check_targets(targets)
    for target in targets:
        kind, _, where = target.partition(":")
        if kind == "tensorboard":
            _tensorboard(where, scalars, step or 0)
        else:
            _wandb(where or None, scalars, step)


def _has_tensorboard() -> bool:
    return any(importlib.util.find_spec(name) is not None for name in ("tensorboard", "tensorboardX"))


def _tensorboard(folder: str, scalars: Mapping[str, float], step: int) -> None:
    if importlib.util.find_spec("tensorboard") is not None:
        from torch.utils.tensorboard import SummaryWriter
    else:
        from tensorboardX import SummaryWriter  # type: ignore[no-redef]
    import uuid

    # A file of its own per call: two calls within one second would otherwise share a name.
    writer = SummaryWriter(log_dir=folder, filename_suffix=f".vlmeval-{uuid.uuid4().hex[:8]}")
    try:
        for name, value in scalars.items():
            writer.add_scalar(name, value, global_step=step)
    finally:
        writer.close()


def _wandb(project: str | None, scalars: Mapping[str, float], step: int | None) -> None:
    import wandb

    started = wandb.run is None
    run = wandb.init(project=project) if wandb.run is None else wandb.run
    try:
        run.log(dict(scalars), step=step)
    finally:
        if started:
            run.finish()


def log_reports(targets: Sequence[str], run_dirs: Sequence[Path], step: int | None,
                label: str | None) -> None:
    """`vlmeval run --log-to`: the metrics of each finished run's report.json, at `step`.

    Without --step, a label `step-N` (or any label ending in a number) gives the step.
    """
    from vlmeval.reporting.record import load_report
    from vlmeval.reporting.trend import step_of

    scalars: dict[str, float] = {}
    for folder in run_dirs:
        if (folder / "report.json").is_file():  # a shard that did not merge has no report yet
            report = load_report(folder / "report.json")
            scalars.update({f"vlmeval/{report.task}/{name}": value for name, value in report.metrics.items()})
    if scalars:
        log_scalars(targets, scalars, step if step is not None else step_of(label))

