"""Which shard this process is, and starting one worker process per shard.

Three ways to be a shard: our own spawned workers (`VLMEVAL_SHARD`), an existing launcher
(torchrun or accelerate: `RANK`/`WORLD_SIZE`; Slurm: `SLURM_PROCID`/`SLURM_NTASKS`), or none (one
process does everything). Shards never talk to each other: each appends answers to its own file,
so one that dies cannot hang the rest, and whoever finishes last merges.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from vlmeval.errors import UsageError

SHARD_ENV = "VLMEVAL_SHARD"  # "K/N", set on the workers `--shards N` starts


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def owns(self, sample_id: str) -> bool:
        """Deterministic by id alone, so a shard's members do not depend on dataset order."""
        return self.count == 1 or zlib.crc32(sample_id.encode()) % self.count == self.index


WHOLE_RUN = Shard()  # one process answers every sample


class Launcher(str, Enum):
    """Who started this process (a str enum: the value is what run.json's `sharding` records)."""

    SINGLE = "single"  # the user: one process answers every sample, or starts one worker per shard
    SPAWNED = "spawned"  # `--shards N`: a worker started by a single process, which merges
    TORCHRUN = "torchrun"  # torchrun or accelerate (RANK/WORLD_SIZE): the last shard to finish merges
    SLURM = "slurm"  # srun (SLURM_PROCID/SLURM_NTASKS): likewise
    # `vlmeval.evaluate` called on every rank of a torch.distributed group: rank 0 gathers the answers
    # and merges (engine/in_process.py); recorded in run.json, never detected from the environment
    DISTRIBUTED = "torch.distributed"

    def __str__(self) -> str:
        return self.value

    @property
    def external(self) -> bool:
        """Started by a launcher vlmeval does not control, one process per shard."""
        return self in (Launcher.TORCHRUN, Launcher.SLURM)


@dataclass(frozen=True)
class Placement:
    """This process's shard, who launched it, and which local accelerator index it may use."""

    shard: Shard
    launcher: Launcher
    local_rank: int = 0

    @property
    def is_worker(self) -> bool:
        return self.launcher is not Launcher.SINGLE


def detect_placement(env: Mapping[str, str] | None = None) -> Placement:
    env = os.environ if env is None else env
    if SHARD_ENV in env:
        parts = env[SHARD_ENV].split("/")
        if len(parts) != 2:
            raise UsageError(f"{SHARD_ENV}={env[SHARD_ENV]!r} is not INDEX/COUNT")
        index, count = (_env_int(SHARD_ENV, part) for part in parts)
        return Placement(Shard(index, count), Launcher.SPAWNED)
    for launcher, rank_key, size_key, local_key in (
        (Launcher.TORCHRUN, "RANK", "WORLD_SIZE", "LOCAL_RANK"),
        (Launcher.SLURM, "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    ):
        if rank_key in env and size_key in env and _env_int(size_key, env[size_key]) > 1:
            rank, size = _env_int(rank_key, env[rank_key]), _env_int(size_key, env[size_key])
            if not 0 <= rank < size:
                raise UsageError(f"{rank_key}={rank} is outside {size_key}={size}")
            return Placement(Shard(rank, size), launcher, _env_int(local_key, env.get(local_key, "0")))
    return Placement(WHOLE_RUN, Launcher.SINGLE)


def _env_int(name: str, value: str) -> int:
    """A launcher's variable as an integer; a typo there would otherwise end in a traceback."""
    try:
        return int(value.strip())
    except ValueError:
        raise UsageError(f"environment variable {name}={value!r} is not an integer") from None


def visible_gpus(env: Mapping[str, str] | None = None) -> list[str]:
    """Accelerator ids this process may use: CUDA_VISIBLE_DEVICES, else all that torch sees."""
    env = os.environ if env is None else env
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d for d in listed.split(",") if d.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def gpu_slice(gpus: Sequence[str], slot: int, per_shard: int) -> list[str]:
    chosen = list(gpus[slot * per_shard : (slot + 1) * per_shard])
    if len(chosen) < per_shard:
        raise UsageError(
            f"shard slot {slot} needs {per_shard} GPU(s) but only {len(gpus)} are visible"
        )
    return chosen


@dataclass(frozen=True)
class WorkerResult:
    shard: Shard
    returncode: int

    def describe(self) -> str:
        code = self.returncode
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return f"shard {self.shard.index} of {self.shard.count} failed ({how})"


def cpu_threads_per_shard(count: int, env: Mapping[str, str] | None = None) -> str | None:
    """OMP_NUM_THREADS for CPU shards: the cores split between them, unless the user chose.

    torch takes one thread per core in every process, so N shards would run N x cores threads
    on the cores and each would wait on the others (2 shards on 2 cores: 4x slower than with one
    thread each; benchmarks/README.md).
    """
    env = os.environ if env is None else env
    if "OMP_NUM_THREADS" in env:
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cores = os.cpu_count() or 1
    return str(max(1, cores // count))


class Terminated(BaseException):
    """SIGTERM reached this process; raised where it waits so that cleanup runs. A BaseException,
    as KeyboardInterrupt is, so that no `except Exception` on the way (a backend that records a
    failed request as the sample's error) turns a stop into a finished, incomplete run."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def spawn_workers(argv: Sequence[str], count: int, gpus: Sequence[str], per_shard: int) -> list[WorkerResult]:
    """Run `vlmeval <argv>` once per shard and wait for all of them, whatever each one does.

    SIGTERM or SIGINT to this process stops every worker (SIGTERM, then SIGKILL after
    `STOP_GRACE_S`) before it returns: no worker is left running on its own.
    """
    processes: list[tuple[Shard, subprocess.Popen[bytes]]] = []
    threads = None if gpus else cpu_threads_per_shard(count)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        for index in range(count):
            env = {**os.environ, SHARD_ENV: f"{index}/{count}"}
            if gpus:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_slice(gpus, index, per_shard))
            elif threads is not None:
                env["OMP_NUM_THREADS"] = threads
            processes.append(
                (Shard(index, count), subprocess.Popen([sys.executable, "-m", "vlmeval", *argv], env=env))
            )
        return [WorkerResult(shard, process.wait()) for shard, process in processes]
    finally:
        _stop([process for _, process in processes])
        signal.signal(signal.SIGTERM, previous)


STOP_GRACE_S = 10.0


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Terminate the workers still running, and kill those that ignore it."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
