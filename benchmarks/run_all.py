"""Run the whole benchmark suite, one script after another, and print (and optionally save) the figures.

From a checkout after `pip install -e .`:  ``python benchmarks/run_all.py [--log FILE] [--quick]
[--skip NAME ...] [--lmms-venv DIR]``. The lmms-eval side-by-side installs lmms-eval into its own
virtual environment the first time (several minutes; reused after). Nothing asserts a time:
the scripts print figures and say which targets they meet (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, script, arguments, arguments with --quick)
SUITE: list[tuple[str, str, list[str], list[str]]] = [
    ("startup", "startup.py", [], ["--runs", "3"]),
    ("leaderboard-tables", "leaderboard_tables.py", [], ["--runs", "3"]),
    ("overhead", "harness_overhead.py", ["--phases", "--repeat", "2"], ["--repeat", "1", "--phases"]),
    ("generation", "generation.py", [], ["--samples", "96"]),
    ("generation-1-thread", "generation.py", ["--threads", "1"], ["--samples", "96", "--threads", "1"]),
    ("generation-random", "generation.py", ["--model", "random", "--samples", "128"],
     ["--model", "random", "--samples", "64"]),
    ("generation-random-1-thread", "generation.py", ["--model", "random", "--samples", "128", "--threads", "1"],
     ["--model", "random", "--samples", "64", "--threads", "1"]),
    ("shards", "shard_scaling.py", ["--one-thread"], ["--samples", "256"]),
    ("lmms-eval", "vs_lmms_eval.py", [], ["--samples", "100"]),
    ("lmms-eval-1-thread", "vs_lmms_eval.py", ["--threads", "1"], ["--samples", "100", "--threads", "1"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="also append everything printed to this file")
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run, not figures to record")
    parser.add_argument("--skip", action="append", default=[], choices=[name for name, *_ in SUITE])
    parser.add_argument("--only", action="append", default=[], choices=[name for name, *_ in SUITE])
    parser.add_argument("--lmms-venv", help="where lmms-eval's environment lives (vs_lmms_eval.py --venv)")
    args = parser.parse_args()
    log = args.log.open("a", encoding="utf-8") if args.log else None
    failed = []
    for name, script, full, quick in SUITE:
        if name in args.skip or (args.only and name not in args.only):
            continue
        extra = ["--venv", args.lmms_venv] if name.startswith("lmms-eval") and args.lmms_venv else []
        command = [sys.executable, str(HERE / script), *(quick if args.quick else full), *extra]
        banner = f"\n##### {name}: {' '.join(command[1:])} ({time.strftime('%Y-%m-%d %H:%M:%S')})"
        print(banner, flush=True)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if log:
            log.write(banner + "\n")
        assert process.stdout is not None
        for line in process.stdout:
            if "Loading weights" in line:  # transformers' progress bars: noise in a log
                continue
            print(line, end="", flush=True)
            if log:
                log.write(line)
                log.flush()
        if process.wait() != 0:
            failed.append(name)
            print(f"##### {name} failed with exit code {process.returncode}", flush=True)
    if log:
        log.close()
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
