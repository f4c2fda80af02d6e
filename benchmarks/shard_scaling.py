"""Shard scaling on a CPU: `vlmeval run --shards 1` against `--shards 2`, end to end.

Each configuration is a fresh `vlmeval run --task sqa --model demo` on the same synthetic
ScienceQA split (48% with an image), timed from the command's start to its report: model loads,
generation, merge and scoring included. Throughput is samples per wall second.

Threads: torch takes one thread per core in each process, so two shards on two cores would run
four compute threads. `vlmeval run --shards N` on a CPU gives each worker OMP_NUM_THREADS =
cores / N (unless the user set it), and the 2-shard run relies on that; `--oversubscribed`
also times 2 shards with every core each (OMP_NUM_THREADS=cores), what workers did before, and
`--one-thread` times 1 shard with a single thread.

Target (issue 9): 2 shards at least 1.6x the throughput of 1 shard on this 2-core machine.
Run: ``python benchmarks/shard_scaling.py [--samples N] [--batch-size B] [--oversubscribed] [--one-thread]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    bench_env,
    load_average,
    print_header,
    require_tasks,
    run_process,
    usable_cpus,
    vlmeval_command,
    workdir,
    write_sqa_parquet,
)


def timed_run(data: Path, output: Path, shards: int, batch_size: int, max_new_tokens: int,
              threads: int | None, label: str) -> float:
    command = vlmeval_command("run", "--task", "sqa", "--model", "demo", "--data", str(data), "--device", "cpu",
                              "--shards", str(shards), "--batch-size", str(batch_size), "--max-new-tokens",
                              str(max_new_tokens), "--output", str(output), "--run-name", label, "--no-progress")
    env = bench_env()
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    run = run_process(command, env=env)
    if run.returncode not in (0, 3):
        run.check()
    return run.wall_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--oversubscribed", action="store_true", help="also 2 shards with torch's default threads")
    parser.add_argument("--one-thread", action="store_true", help="also 1 shard with OMP_NUM_THREADS=1")
    parser.add_argument("--workdir", help="keep data and runs here (default: a temporary folder)")
    args = parser.parse_args()
    require_tasks()
    cores = usable_cpus()
    per_shard = max(1, cores // 2)
    print_header("shard scaling", {"samples": args.samples, "batch size": args.batch_size,
                                   "max_new_tokens": args.max_new_tokens, "cores": cores,
                                   "threads per shard at 2 shards": per_shard, "model": "demo"})
    with workdir(args.workdir, "vlmeval-shards-") as folder:
        data = write_sqa_parquet(folder / "sqa", args.samples)
        one, two = f"1 shard ({cores} threads, torch default)", f"2 shards ({per_shard} thread(s) each, vlmeval's)"
        configs: list[tuple[str, int, int | None]] = [(one, 1, None)]
        if args.one_thread:
            configs.append(("1 shard, OMP_NUM_THREADS=1", 1, 1))
        configs.append((two, 2, None))
        if args.oversubscribed:
            configs.append((f"2 shards, OMP_NUM_THREADS={cores} each", 2, cores))
        rates = {}
        for number, (label, shards, threads) in enumerate(configs):
            wall = timed_run(data, folder / "runs", shards, args.batch_size, args.max_new_tokens, threads,
                             f"config-{number}")
            rates[label] = args.samples / wall
            print(f"{label:42s} {wall:7.1f} s wall, {rates[label]:6.1f} samples/s | {load_average()}", flush=True)
        ratio = rates[two] / rates[one]
        print(f"2 shards / 1 shard: {ratio:.2f}x; target >= 1.6x: {'met' if ratio >= 1.6 else 'MISSED'}")


if __name__ == "__main__":
    main()
