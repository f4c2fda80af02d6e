"""Fault injection for tests: kill processes at chosen moments, tear files, slow backends.

Reusable by any test that must show nothing is lost: start the real command with `start_cli`,
wait for a condition on its output files with `wait_for`, then `kill_shard_worker` or
`kill_tree` it with SIGKILL, and re-run the same command.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`vlmeval ARGS` in the background, output captured."""
    return subprocess.Popen([sys.executable, "-m", "vlmeval", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


def answer_lines(run_dir: Path, shard_file_glob: str = "shard-*.jsonl") -> int:
    """Complete answer lines written so far under RUN_DIR/answers."""
    folder = run_dir / "answers"
    if not folder.is_dir():
        return 0
    return sum(p.read_text(encoding="utf-8").count("\n") for p in folder.glob(shard_file_glob))


def shard_worker(parent: subprocess.Popen[str], shard: int, timeout: float = 30.0) -> psutil.Process:
    """The worker process that `--shards N` started for shard SHARD."""
    found: list[psutil.Process] = []

    def look() -> bool:
        for child in psutil.Process(parent.pid).children():
            try:
                if child.environ().get("VLMEVAL_SHARD", "").startswith(f"{shard}/"):
                    found.append(child)
                    return True
            except psutil.Error:
                continue
        return False

    wait_for(look, timeout, f"worker of shard {shard}")
    return found[0]


def kill_shard_worker(parent: subprocess.Popen[str], shard: int) -> None:
    os.kill(shard_worker(parent, shard).pid, signal.SIGKILL)


def kill_tree(process: subprocess.Popen[str]) -> None:
    """SIGKILL a process and every process it started, as a preempted node would."""
    parent = psutil.Process(process.pid)
    for child in parent.children(recursive=True):
        child.kill()
    parent.kill()
    process.wait()


def tear_last_line(file: Path, keep_bytes: int = 7) -> None:
    """Cut the last line of FILE after a few bytes: a crash in the middle of a write."""
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    file.write_text("".join(lines[:-1]) + lines[-1][:keep_bytes], encoding="utf-8")


class _FullDiskFile(io.RawIOBase):
    """A real file that takes `budget` more bytes, then fails every write with ENOSPC."""

    def __init__(self, raw: io.FileIO, budget: list[int]) -> None:
        self._raw = raw
        self._budget = budget

    def readable(self) -> bool:
        return self._raw.readable()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._raw.readinto(buffer) or 0

    def write(self, data: Any) -> int:
        if self._budget[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        taken = bytes(data[: self._budget[0]])
        self._budget[0] -= len(taken)
        return self._raw.write(taken) or 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def full_disk_open(budget_bytes: int) -> Callable[..., Any]:
    """An `open` whose files share `budget_bytes` of free space: patch it over a module's `open`
    to fill the disk part-way through a write, as a real full disk does (a partial last write)."""
    budget = [budget_bytes]

    def fake_open(path: Any, mode: str = "r", buffering: int = -1, encoding: str | None = None,
                  **kwargs: Any) -> Any:
        raw_mode = mode.replace("b", "").replace("t", "")
        raw = _FullDiskFile(io.FileIO(path, raw_mode), budget)
        if buffering == 0:
            return raw
        buffered = io.BufferedRandom(raw) if raw.readable() else io.BufferedWriter(raw)
        return buffered if "b" in mode else io.TextIOWrapper(buffered, encoding=encoding or "utf-8")

    return fake_open


def full_disk_fdopen(name_prefix: str) -> Callable[..., Any]:
    """An `os.fdopen` under which files written atomically as `name_prefix...` (their temporary
    `.{name}.XXXX.tmp`) meet a full disk at the first byte; other files are written as usual."""
    real = os.fdopen
    no_space = full_disk_open(0)

    def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        target = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if target.startswith(f".{name_prefix}") and "r" not in mode:
            return no_space(fd, mode, *args, **kwargs)
        return real(fd, mode, *args, **kwargs)

    return fdopen
