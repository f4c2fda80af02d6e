"""A number without valid inputs is not a number: metrics whose inputs all failed, or whose
denominator is zero, are reported missing with the reason; the report is incomplete (exit 3) and
leaderboards and comparisons show the cell as missing."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from vlmeval_tasks.llava_bench import METRICS as LLAVA_METRICS
from vlmeval_tasks.mme import METRICS as MME_METRICS
from vlmeval_tasks.mmvet import METRICS as MMVET_METRICS
from vlmeval_tasks.pope import METRICS as POPE_METRICS

from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import llava_bench_row, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.metrics import Metric, Missing, Record, mean_metric, missing_metrics
from vlmeval.registry import load_registry
from vlmeval.run_spec import RunSpec
from vlmeval.reporting.report import build_report, render_markdown


def by_name(metrics: tuple[Metric, ...], name: str) -> Metric:
    return next(m for m in metrics if m.name == name)


def test_all_failed_inputs_are_missing_but_counts_stay() -> None:
    records = [Record(str(i), "q", "x", scores={"correct": 0.0}, failure="judge_failed") for i in range(3)]
    accuracy = mean_metric("accuracy", "correct")
    count = Metric("failed", reduce=lambda rs: float(len(rs)), scale="count", reduces="sum")
    outcome = accuracy.outcome(records)
    assert isinstance(outcome, Missing) and "all 3 samples failed (judge_failed 3)" in outcome.reason
    assert accuracy.compute(records) is None
    assert count.outcome(records) == 3.0  # a count of failures is the answer itself
    one_valid = [*records, Record("3", "q", "x", scores={"correct": 1.0})]
    assert accuracy.outcome(one_valid) == 25.0  # one valid input: a number, failures scored wrong


def pope_record(i: int, category: str, label_yes: bool, pred_yes: bool) -> Record:
    return Record(str(i), "q", "yes" if pred_yes else "no", meta={"category": category},
                  scores={"correct": float(label_yes == pred_yes), "pred_yes": float(pred_yes),
                          "label_yes": float(label_yes)})


def test_pope_zero_denominators_are_missing_not_zero() -> None:
    # adversarial: the model never says yes -> precision TP/(TP+FP) is 0/0 in eval_pope.py
    records = [pope_record(i, "adversarial", i % 2 == 0, False) for i in range(4)]
    records += [pope_record(10 + i, "random", i % 2 == 0, i < 2) for i in range(4)]
    missing = missing_metrics(POPE_METRICS, records)
    assert "divides by zero" in missing["adversarial_precision"]
    assert "adversarial_f1" in missing and "f1" in missing  # the mean F1 holds the undefined one
    assert "adversarial_recall" not in missing and "random_f1" not in missing
    assert by_name(POPE_METRICS, "adversarial_recall").compute(records) == 0.0  # TP 0 of 2: a real 0
    assert by_name(POPE_METRICS, "accuracy").compute(records) == pytest.approx(100 * 4 / 8)


def test_mme_subtask_without_valid_answer_makes_its_sum_missing() -> None:
    def rec(i: int, subtask: str, failure: str | None) -> Record:
        return Record(str(i), "q", "x", scores={"correct": float(failure is None)}, failure=failure,
                      meta={"subtask": subtask, "pair": f"{subtask}/{i // 2}"})

    records = [rec(i, "existence", None) for i in range(4)] + [rec(4 + i, "count", "other") for i in range(4)]
    missing = missing_metrics(MME_METRICS, records)
    assert "count" in missing and "count_acc" in missing
    assert "subtask count" in missing["perception"]
    assert by_name(MME_METRICS, "existence").compute(records) == 200.0


def test_mmvet_all_judgements_failed_is_missing() -> None:
    records = [Record(str(i), "q", "x", scores={"score": 0.0, "score_run0": 0.0, "failed_judgements": 1.0},
                      failure="judge_failed", meta={"capability": ["rec"]}) for i in range(3)]
    missing = missing_metrics(MMVET_METRICS, records)
    assert {"total", "rec"} <= set(missing)
    assert by_name(MMVET_METRICS, "failed_judgements").compute(records) == 3.0


def test_mmbench_judged_rows_all_failed_make_circular_accuracy_missing() -> None:
    task = load_registry().get("mmbench_en_dev")
    records = [Record(str(i), "q", "x", scores={"correct": 0.0, "judged": 1.0}, failure="judge_failed",
                      meta={"index": i, "circular_id": i % 1_000_000, "category": "c"})
               for i in (1, 1_000_001, 2)]
    report = build_report(task, records, "m", True, RunSpec())
    assert set(report.missing_metrics) == {"circular_accuracy", "vanilla_accuracy"}
    assert report.metrics["unresolved"] == 3.0  # a count stays a number: three rows read as no option
    assert not report.complete
    assert report.breakdown["category"]["c"]["circular_accuracy"] is None
    assert "no valid input" in report.breakdown["category"]["c"]["missing"]
    text = render_markdown(report)
    assert "| circular_accuracy | missing: no valid input" in text and "0.00" not in text.split("## ")[0]


def llava_record(i: int, runs: list[tuple[float, float]], failure: str | None = None) -> Record:
    scores: dict[str, float] = {"failed_judgements": float(sum(p == (-1.0, -1.0) for p in runs))}
    for run, (reference, model) in enumerate(runs):
        scores[f"reference_run{run}"], scores[f"model_run{run}"] = reference, model
    return Record(str(i), "q", "x", scores=scores, failure=failure, meta={"category": "conv"})


def test_llava_reference_mean_zero_is_missing() -> None:
    records = [llava_record(i, [(0.0, 5.0)]) for i in range(3)]
    missing = missing_metrics(LLAVA_METRICS, records)
    assert "divides by zero" in missing["relative"] and "relative_zoo" in missing


def test_llava_zoo_reduction_is_the_mean_of_runs_rounded_to_one_decimal() -> None:
    # per run: 100 * model mean / reference mean (means rounded to 3 decimals), as summarize_gpt_review.py
    # runs at 65.44, 65.44, 65.53: their mean prints 65.5, the zoo's mean of printed runs 65.4
    pairs = [[(10.0, 6.544), (10.0, 6.544), (10.0, 6.553)]] * 2
    records = [llava_record(i, runs) for i, runs in enumerate(pairs)]
    per_run = []
    for run in range(3):
        reference = round(statistics.fmean(p[run][0] for p in pairs), 3)
        model = round(statistics.fmean(p[run][1] for p in pairs), 3)
        per_run.append(100 * model / reference)
    zoo = statistics.fmean(round(value, 1) for value in per_run)
    assert by_name(LLAVA_METRICS, "relative_zoo").compute(records) == pytest.approx(zoo)
    assert by_name(LLAVA_METRICS, "relative").compute(records) == pytest.approx(statistics.fmean(per_run))
    assert (round(zoo, 1), round(statistics.fmean(per_run), 1)) == (65.4, 65.5)


def llava_score(tmp_path: Path, reply: str, out: Path) -> tuple[int, dict[str, Any]]:
    rows = [llava_bench_row(qid, "conv") for qid in range(3)]
    data = write_parquet(tmp_path / "llava" / "train-00000-of-00001.parquet", rows)
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": str(q), "prediction": "an answer"} for q in range(3)])
    with FakeOpenAIServer(reply) as server:
        code = main(["score", "--task", "llava_bench_wild", "--predictions", str(preds), "--data", str(data),
                     "--output", str(out), "--judge", "judge-model", "--judge-base-url", server.base_url,
                     "--judge-api-key-env", "NO_KEY_FOR_TESTS"])
    return code, json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_llava_unreadable_judge_is_missing_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    code, report = llava_score(tmp_path, "I cannot rate these answers.", tmp_path / "runs" / "bad" / "llava_bench_wild")
    assert code == 3 and report["complete"] is False
    assert "relative" not in report["metrics"] and "judge_failed 3" in report["missing_metrics"]["relative"]
    assert report["metrics"]["failed_judgements"] == 3.0
    err = capsys.readouterr().err
    assert "metrics relative, conv, relative_zoo, model_mean, reference_mean missing: no valid input" in err
    assert "re-run the same command" not in err

    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache2"))  # a judge that reads: asked anew
    code, good = llava_score(tmp_path, "8 6\nfine", tmp_path / "runs" / "good" / "llava_bench_wild")
    assert code == 0 and good["metrics"]["relative"] == pytest.approx(75.0)
    capsys.readouterr()
    assert main(["leaderboard", str(tmp_path / "runs"), "--row", "run", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == ["1,good,,75.00", "2,bad,,missing"]

    assert main(["compare", str(tmp_path / "runs" / "good" / "llava_bench_wild"),
                 str(tmp_path / "runs" / "bad" / "llava_bench_wild"), "--fail-on-regression", "1"]) == 1
    text = capsys.readouterr().out
    assert "| relative | 75.00 | missing |" in text and "relative is missing in B" in text


def test_a_reduction_that_gives_nan_or_divides_by_zero_is_missing() -> None:
    records = [Record("0", "q", "x", scores={"v": 1.0})]
    nan = Metric("nan", reduce=lambda rs: float("nan"))
    zero = Metric("ratio", reduce=lambda rs: 1.0 / sum(r.scores["v"] - 1.0 for r in rs))
    assert missing_metrics((nan, zero), records) == {"nan": "not a finite number (nan)", "ratio": "zero denominator"}
