"""Fault injection for tests: kill processes at chosen moments, tear files, slow backends.

Reusable by any test that must show nothing is lost: start the real command with `start_cli`,
wait for a condition on its output files with `wait_for`, then `kill_shard_worker` or
`kill_tree` it with SIGKILL, and re-run the same command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

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
