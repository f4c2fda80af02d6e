"""End-to-end time and memory of `vlmeval score --task vqav2_val` at full scale (214,354 questions).

Builds a synthetic parquet in the lmms-lab/VQAv2 validation schema (10 answer dicts per question,
answer types in VQAv2-val proportions, from `vqa_scoring.build_questions`; the `image` column is
all null, so no image bytes are read) and a predictions JSONL, then times the whole command in a
fresh interpreter: imports, reading the rows, building samples, reading predictions, scoring,
metrics and breakdowns, and writing report.json, report.md and predictions.jsonl. Peak memory is
the child's maximum resident set. `--phases` also times each engine step in this process.

Run: ``python benchmarks/vqav2_score_cli.py [--questions N] [--workdir DIR] [--repeat R] [--phases] [--charts]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without install

from benchmarks.vqa_scoring import build_questions

TASK = "vqav2_val"


def write_inputs(folder: Path, n_questions: int, seed: int) -> tuple[Path, Path]:
    """A hub-layout parquet folder and a predictions file for `n_questions` questions."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    questions = build_questions(n_questions, seed)
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    qids = [i * 1000 + 1 for i in range(len(questions))]
    answer_dicts = [
        [{"answer": a, "answer_confidence": "yes", "answer_id": j + 1} for j, a in enumerate(gts)]
        for _, _, gts in questions
    ]
    table = pa.table({
        "question_type": ["what is the"] * len(questions),
        "multiple_choice_answer": [gts[0] for _, _, gts in questions],
        "answers": answer_dicts,
        "image_id": list(range(len(questions))),
        "answer_type": [kind for kind, _, _ in questions],
        "question_id": qids,
        "question": ["What is in the picture?"] * len(questions),
        "image": pa.nulls(len(questions), type=image_type),
    })
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, data / "validation-00000-of-00001.parquet", row_group_size=10_000)
    predictions = folder / "predictions.jsonl"
    with predictions.open("w", encoding="utf-8") as out:
        for qid, (_, prediction, _) in zip(qids, questions, strict=True):
            out.write(json.dumps({"id": str(qid), "prediction": prediction}) + "\n")
    return data, predictions


def time_cli(data: Path, predictions: Path, output: Path,
             charts: bool = False) -> tuple[float, float, float, dict[str, float]]:
    """(wall s, CPU s, peak RSS MiB, report metrics) of one `vlmeval score` process."""
    command = [sys.executable, "-m", "vlmeval", "score", "--task", TASK, "--data", str(data),
               "--predictions", str(predictions), "--output", str(output), *(["--charts"] if charts else [])]
    log = output.parent / f"{output.name}.log"
    with log.open("w", encoding="utf-8") as sink:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own CPU time and peak RSS
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"vlmeval score failed ({child.returncode}):\n{log.read_text(encoding='utf-8')}")
    report = json.loads((output / "report.json").read_text(encoding="utf-8"))
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, report["metrics"]


def time_phases(data: Path, predictions: Path, output: Path) -> None:
    """The engine steps of `score_file`, timed one by one in this process (collector as there)."""
    from vlmeval.engine.memory import collector_paused
    from vlmeval.engine.predictions import read_predictions
    from vlmeval.engine.samples import load_samples
    from vlmeval.engine.scoring import score_answers
    from vlmeval.engine.store import Answer
    from vlmeval.registry import load_registry
    from vlmeval.run_spec import RunSpec
    from vlmeval.reporting.report import build_report, write_outputs
    from vlmeval.task import ScoreContext

    task = load_registry().get(TASK)
    marks = [("start", time.perf_counter())]
    with collector_paused():  # as cli.main runs every command
        sample_set = load_samples(task, str(data), None, None)
        marks.append(("load rows + to_sample", time.perf_counter()))
        fingerprint = sample_set.fingerprint()
        marks.append(("fingerprint", time.perf_counter()))
        answers = {i: Answer(i, p) for i, p in read_predictions(predictions).items()}
        marks.append(("read predictions", time.perf_counter()))
        records = score_answers(task, sample_set.samples, answers, ScoreContext(output_dir=output))
        marks.append(("score", time.perf_counter()))
        report = build_report(task, records, "bench", True, RunSpec(dataset={"fingerprint": fingerprint}))
        marks.append(("report: metrics, breakdowns, intervals", time.perf_counter()))
        write_outputs(output, records, report)
        marks.append(("write predictions.jsonl + report", time.perf_counter()))
    for (_, before), (name, after) in itertools.pairwise(marks):
        print(f"  {name:40s} {after - before:6.2f} s")
    print(f"  {'total':40s} {marks[-1][1] - marks[0][1]:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=214_354)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="timed CLI runs (best is reported)")
    parser.add_argument("--workdir", type=Path, help="keep the inputs and outputs here")
    parser.add_argument("--phases", action="store_true", help="also time each engine step in-process")
    parser.add_argument("--charts", action="store_true", help="time `vlmeval score --charts` (matplotlib PNGs)")
    args = parser.parse_args()

    print(f"machine: {platform.platform()} | cpu_count={os.cpu_count()} | python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.workdir or Path(scratch)
        start = time.perf_counter()
        data, predictions = write_inputs(folder, args.questions, args.seed)
        print(f"built {args.questions:,} rows + predictions in {time.perf_counter() - start:.1f} s "
              f"(parquet {sum(f.stat().st_size for f in data.iterdir()) / 2**20:.0f} MiB)")
        walls = []
        for run in range(args.repeat):
            wall, cpu, peak_mib, metrics = time_cli(data, predictions, folder / f"out-{run}", args.charts)
            walls.append((wall, cpu))
            print(f"`vlmeval score --task {TASK}` end to end: {wall:.2f} s wall, {cpu:.2f} s CPU, "
                  f"peak RSS {peak_mib:.0f} MiB")
        best_wall, best_cpu = min(walls)
        print(f"best of {len(walls)}: {best_wall:.2f} s wall ({best_cpu:.2f} s CPU) for {args.questions:,} "
              f"predictions; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (noise)")
        print("metrics: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
        if args.phases:
            print("engine steps in-process:")
            time_phases(data, predictions, folder / "out-phases")


if __name__ == "__main__":
    main()
