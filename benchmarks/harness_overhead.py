"""Harness overhead with no model: a replay run of ScienceQA and `vlmeval score` at VQAv2-val scale.

1. `vlmeval run --task sqa --model replay:FILE` on a synthetic 4,241-question split in the
   lmms-lab/ScienceQA schema (2,017 questions with a small PNG, as in the real test split), in a
   fresh process: everything the harness does around a model (imports, reading the parquet,
   building prompts, decoding every image, the generation loop, the answer files, scoring,
   metrics, report files). Target: under 3 s.
2. `vlmeval score --task vqav2_val` on 214,354 synthetic predictions against a synthetic
   validation parquet without images (built by `vqav2_score_cli.write_inputs`). Targets: under
   10 s and under 2 GB peak memory (the child process's own maximum resident set).

`--phases` also times each engine step of the replay run in this process.
Run: ``python benchmarks/harness_overhead.py [--repeat N] [--phases] [--workdir DIR] [--only replay|score]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPO,
    SQA_QUESTIONS,
    bench_env,
    load_average,
    median,
    print_header,
    require_tasks,
    run_process,
    vlmeval_command,
    workdir,
    write_sqa_parquet,
)

VQAV2_QUESTIONS = 214_354
_PREDICTIONS = ("A", "B", "C", "The answer is B.", "D.", "(A)", "B. blue", "I am not sure.")


def write_replay_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    data = write_sqa_parquet(folder / "sqa", n)
    rng = random.Random(1)
    predictions = folder / "sqa-predictions.jsonl"
    with predictions.open("w", encoding="utf-8") as out:
        for index in range(n):
            out.write(json.dumps({"id": str(index), "prediction": rng.choice(_PREDICTIONS)}) + "\n")
    return data.parent, predictions


def replay_run(data: Path, predictions: Path, output: Path, repeat: int) -> None:
    command = vlmeval_command("run", "--task", "sqa", "--model", f"replay:{predictions}", "--data", str(data),
                              "--output", str(output), "--no-progress")
    runs = []
    for number in range(repeat):
        run = run_process([*command, "--run-name", f"replay-{number}"], env=bench_env())
        if run.returncode not in (0, 3):
            run.check()
        runs.append(run)
        print(f"  run {number + 1}: {run.wall_s:.2f} s wall, {run.cpu_s:.2f} s CPU, peak RSS {run.peak_rss_mib:.0f} MiB")
    wall = median([r.wall_s for r in runs])
    print(f"replay run of {SQA_QUESTIONS:,} ScienceQA questions: median {wall:.2f} s wall "
          f"(best {min(r.wall_s for r in runs):.2f} s), median CPU {median([r.cpu_s for r in runs]):.2f} s, "
          f"peak RSS {max(r.peak_rss_mib for r in runs):.0f} MiB; {load_average()}")
    print(f"  target < 3 s: {'met' if wall < 3 else 'MISSED'}")


def replay_phases(data: Path, predictions: Path, output: Path) -> None:
    """The steps of `vlmeval run` with a replay model, one by one, in this process."""
    from vlmeval.backends.base import GenerationSettings
    from vlmeval.backends.replay import ReplayBackend
    from vlmeval.engine.runner import generate
    from vlmeval.engine.samples import load_samples
    from vlmeval.engine.scoring import score_answers
    from vlmeval.engine.store import AnswerStore
    from vlmeval.registry import load_registry
    from vlmeval.run_spec import RunSpec
    from vlmeval.reporting.report import build_report, write_outputs
    from vlmeval.task import ScoreContext

    marks = [("start", time.perf_counter())]
    task = load_registry().get("sqa")
    marks.append(("import tasks", time.perf_counter()))
    sample_set = load_samples(task, str(data), None, None)
    marks.append(("read parquet + build prompts", time.perf_counter()))
    fingerprint = sample_set.fingerprint()
    marks.append(("dataset fingerprint", time.perf_counter()))
    store = AnswerStore(output)
    summary = generate(sample_set.samples, lambda: ReplayBackend(str(predictions)), GenerationSettings(),
                       store, 8, show_progress=False)
    marks.append(("generation loop (images decoded)", time.perf_counter()))
    answers = store.read().answers
    marks.append(("read answer files", time.perf_counter()))
    records = score_answers(task, sample_set.samples, answers, ScoreContext(output_dir=output))
    marks.append(("score", time.perf_counter()))
    report = build_report(task, records, "replay", True, RunSpec(dataset={"fingerprint": fingerprint}))
    marks.append(("build report (metrics, breakdowns)", time.perf_counter()))
    write_outputs(output, records, report)
    marks.append(("write report files", time.perf_counter()))
    print("replay run, engine steps in-process:")
    for (_, before), (name, after) in pairwise(marks):
        print(f"  {name:38s} {after - before:6.2f} s")
    print(f"  {'total':38s} {marks[-1][1] - marks[0][1]:6.2f} s "
          f"(of which the generation loop waited {summary.input_wait_s:.2f} s for images)")


def vqav2_score(folder: Path, repeat: int) -> None:
    from vqav2_score_cli import TASK, write_inputs

    start = time.perf_counter()
    data, predictions = write_inputs(folder / "vqav2", VQAV2_QUESTIONS, 0)
    print(f"  built {VQAV2_QUESTIONS:,} rows + predictions in {time.perf_counter() - start:.1f} s")
    runs = []
    for number in range(repeat):
        command = vlmeval_command("score", "--task", TASK, "--data", str(data), "--predictions",
                                  str(predictions), "--output", str(folder / f"vqav2-out-{number}"))
        run = run_process(command, env=bench_env()).check()
        runs.append(run)
        print(f"  run {number + 1}: {run.wall_s:.2f} s wall, {run.cpu_s:.2f} s CPU, peak RSS {run.peak_rss_mib:.0f} MiB")
    wall, peak = median([r.wall_s for r in runs]), max(r.peak_rss_mib for r in runs)
    print(f"`vlmeval score --task {TASK}` on {VQAV2_QUESTIONS:,} predictions: median {wall:.2f} s wall "
          f"(best {min(r.wall_s for r in runs):.2f} s), median CPU {median([r.cpu_s for r in runs]):.2f} s, "
          f"peak RSS {peak:.0f} MiB; {load_average()}")
    print(f"  target < 10 s: {'met' if wall < 10 else 'MISSED'}; target < 2 GB: {'met' if peak < 2048 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per figure (median kept)")
    parser.add_argument("--phases", action="store_true", help="also time the replay run's steps in-process")
    parser.add_argument("--only", choices=("replay", "score"))
    parser.add_argument("--workdir", help="keep inputs and outputs here (default: a temporary folder)")
    args = parser.parse_args()
    require_tasks()
    print_header("harness overhead", {"repeat": args.repeat, "sqa questions": SQA_QUESTIONS,
                                      "vqav2 predictions": VQAV2_QUESTIONS, "checkout": REPO})
    with workdir(args.workdir, "vlmeval-overhead-") as folder:
        if args.only in (None, "replay"):
            start = time.perf_counter()
            data, predictions = write_replay_inputs(folder, SQA_QUESTIONS)
            print(f"-- replay run (inputs built in {time.perf_counter() - start:.1f} s)")
            replay_run(data, predictions, folder / "replay-out", args.repeat)
            if args.phases:
                replay_phases(data, predictions, folder / "replay-phases")
        if args.only in (None, "score"):
            print("-- vlmeval score, VQAv2 val scale")
            vqav2_score(folder, args.repeat)


if __name__ == "__main__":
    main()
