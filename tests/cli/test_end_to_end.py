"""`vlmeval run` and `vlmeval score` as a user calls them, on tiny models and real-schema files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import read_jsonl, sqa_row, vlmeval, write_jsonl, write_parquet


@pytest.mark.slow
def test_demo_run_then_resume_then_rescore(tmp_path: Path) -> None:
    out = tmp_path / "results"
    first = vlmeval("run", "--task", "sqa", "--model", "demo", "--data", "demo", "--output", str(out),
                    "--batch-size", "16", "--no-progress")
    assert first.returncode == 0, first.stderr
    assert "Total: 60, Correct:" in first.stdout
    run_dir = out / "demo" / "sqa"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["spec"]["task"] == "sqa" and report["n_samples"] == 60
    assert report["metrics"]["accuracy"] > 40  # 4-way choices: chance is 25
    assert report["spec"]["dataset"]["fingerprint"] and report["spec"]["generation"]["max_new_tokens"] == 1024
    assert report["spec"]["backend"]["architecture"] == "LlavaForConditionalGeneration"
    assert "transformers" in report["versions"]
    records = read_jsonl(run_dir / "predictions.jsonl")
    assert [r["id"] for r in records] == [str(i) for i in range(60)]
    assert {"id", "prompt", "prediction", "answer", "scores", "error"} <= set(records[0])
    assert "# sqa: demo" in (run_dir / "report.md").read_text()

    # The same command again finds every answer and generates nothing.
    answers_before = sorted(p.read_text() for p in (run_dir / "answers").iterdir())
    again = vlmeval("run", "--task", "sqa", "--model", "demo", "--data", "demo", "--output", str(out),
                    "--no-progress")
    assert again.returncode == 0, again.stderr
    assert sorted(p.read_text() for p in (run_dir / "answers").iterdir()) == answers_before
    assert "Loading weights" not in again.stderr

    # Re-scoring the scored predictions reproduces the report's metrics.
    rescored = vlmeval("score", "--task", "sqa", "--data", "demo", "--predictions",
                       str(run_dir / "predictions.jsonl"), "--output", str(tmp_path / "rescored"))
    assert rescored.returncode == 0, rescored.stderr
    report2 = json.loads((tmp_path / "rescored" / "report.json").read_text())
    assert report2["metrics"] == report["metrics"]
    assert (tmp_path / "rescored" / "predictions.jsonl").is_file()


@pytest.mark.slow
def test_corrupt_and_missing_images_are_recorded_and_the_run_goes_on(
    tmp_path: Path, tiny_llava: Path
) -> None:
    rows = [sqa_row(answer=0, image=b"\x89PNG not really"), sqa_row(answer=1), sqa_row(answer=2)]
    rows[2]["image"] = {"bytes": None, "path": str(tmp_path / "gone.png")}
    data = write_parquet(tmp_path / "sqa.parquet", rows)
    result = vlmeval("run", "--task", "sqa", "--model", str(tiny_llava), "--data", str(data),
                     "--output", str(tmp_path / "out"), "--max-new-tokens", "3", "--no-progress")
    assert result.returncode == 3, result.stderr  # incomplete: two samples have errors
    run_dir = tmp_path / "out" / tiny_llava.name / "sqa"
    records = {r["id"]: r for r in read_jsonl(run_dir / "predictions.jsonl")}
    assert "row 0: cannot decode image" in records["0"]["error"]
    assert "row 2: cannot decode image" in records["2"]["error"]
    assert records["1"]["error"] is None and records["1"]["prediction"] is not None
    report = json.loads((run_dir / "report.json").read_text())
    assert report["counts"]["errors"] == 2 and report["complete"] is False


@pytest.mark.slow
def test_bad_inputs_get_one_line_errors(tmp_path: Path) -> None:
    row = sqa_row()
    del row["choices"]
    data = write_parquet(tmp_path / "nochoices.parquet", [row])
    # -q leaves only results, warnings and errors: the error is exactly one line.
    missing_column = vlmeval("score", "--task", "sqa", "--data", str(data), "--predictions", "x.jsonl", "-q")
    assert missing_column.returncode == 2
    assert "missing column 'choices'" in missing_column.stderr and str(data) in missing_column.stderr
    assert len(missing_column.stderr.strip().splitlines()) == 1
    # With -v the status line that says what was being read comes first.
    chatty = vlmeval("score", "--task", "sqa", "--data", str(data), "--predictions", "x.jsonl", "-v")
    assert chatty.stderr.splitlines() == [f"reading the sqa samples from {data} ...",
                                          missing_column.stderr.strip()]

    good = write_parquet(tmp_path / "good.parquet", [sqa_row()])
    no_model = vlmeval("run", "--task", "sqa", "--model", str(tmp_path / "nope"), "--data", str(good),
                       "--output", str(tmp_path / "o"))
    assert no_model.returncode == 2 and "no such checkpoint folder" in no_model.stderr

    unknown = vlmeval("run", "--task", "sqaa", "--model", "demo")
    assert unknown.returncode == 2 and "did you mean sqa" in unknown.stderr

    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "0", "prediction": "A"}, {"id": "7", "prediction": "B"}])
    unknown_id = vlmeval("score", "--task", "sqa", "--data", str(good), "--predictions", str(predictions))
    assert unknown_id.returncode == 2 and "are not samples of sqa" in unknown_id.stderr


@pytest.mark.slow
def test_hub_unreachable_says_how_to_pass_data(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    result = vlmeval("score", "--task", "sqa", "--predictions", "x.jsonl", env=env)
    assert result.returncode == 2
    assert "lmms-lab/ScienceQA" in result.stderr and "--data PATH" in result.stderr


@pytest.mark.slow
def test_help_and_tasks_do_not_import_torch() -> None:
    code = (
        "import sys; from vlmeval.cli import main; main(['tasks']);"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'pandas') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "sqa" in result.stdout and "lmms-lab/ScienceQA" in result.stdout and "4,241" in result.stdout
