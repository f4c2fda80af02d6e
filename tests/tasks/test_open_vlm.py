"""Suite `open_vlm`: the Open VLM Leaderboard layout (average, average rank, points normalised), its
published reference rows (`leaderboard --reference`), and a run end to end on demo-sized data in the
real schemas with a fake OpenAI-compatible server as model and judge."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, last_user_text
from tests.helpers import mmvet_row
from tests.reporting.test_leaderboard import write_report
from vlmeval.demo_data import write_demo_rows as write_demo_data
from vlmeval.cli import main
from vlmeval.registry import load_registry
from vlmeval.reporting.leaderboard import build_leaderboard
from vlmeval.suite import ReferenceRow, Suite, SuiteColumn

TASKS = ["mmbench_v11_en_dev", "mmstar", "mmmu_val", "mathvista_testmini", "ocrbench", "ai2d", "hallusionbench",
         "mmvet"]


def test_suite_columns_in_the_leaderboards_order() -> None:
    suite = load_registry().suite("open_vlm")
    assert suite.tasks == TASKS and suite.ranked
    assert [c.metric for c in suite.columns if c.metric] == ["final_score", "overall"]
    assert all(set(r.values) <= set(TASKS) and r.source for r in suite.references)


def test_average_and_average_rank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scores = {"m1": [70, 50, 40, 30, 600, 80, 40, 35], "m2": [60, 55, 45, 30, 600, 70, 45, 30],
              "m3": [90, 60, 50, 40, 700, 90, 50]}
    for model, values in scores.items():
        for task, value in zip(TASKS, values):
            metric = {"hallusionbench": "overall", "ocrbench": "final_score"}.get(task, "accuracy")
            write_report(tmp_path / model, model, task, metric, float(value))
    board = build_leaderboard([tmp_path], load_registry().suite("open_vlm"))
    rows = {row.name: row for row in board.rows}
    assert rows["m1"].average == pytest.approx((sum(scores["m1"]) - 600 + 60) / 8)  # OCRBench: 600 of 1000
    assert rows["m3"].average is None and rows["m3"].average_rank is None  # no MM-Vet run
    # ranks among the rows that have each column (m3 too); ties share the best rank (MathVista, OCRBench: 2, 2, 1)
    assert rows["m1"].average_rank == pytest.approx((2 + 3 + 3 + 2 + 2 + 2 + 3 + 1) / 8)
    assert rows["m2"].average_rank == pytest.approx((3 + 2 + 2 + 2 + 2 + 3 + 2 + 2) / 8)
    assert [row.name for row in board.rows] == ["m1", "m2", "m3"]
    assert main(["leaderboard", str(tmp_path), "--suite", "open_vlm", "--reference"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("| # | model | average | avg rank | MMBench v1.1 | MMStar | MMMU | MathVista | OCRBench | AI2D "
                        "| HallusionBench | MM-Vet |")
    refs = [line for line in lines if line.startswith("| ref |")]
    assert len(refs) == 3 and "| ref | DeepSeek-VL2 (published) |  |  | 79.2 |" in refs[2]
    assert "arXiv 2412.10302" in lines[-1]
    assert main(["leaderboard", str(tmp_path), "--reference"]) == 2  # no suite: a usage error
    assert main(["leaderboard", str(tmp_path), "--suite", "open_vlm", "--reference", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [m["rank"] for m in listed] == [1, 2, 3, None, None, None]
    assert listed[3]["reference"].startswith("MMMU: LLaVA-NeXT blog")


def test_points_are_averaged_as_a_share_of_their_full_score(tmp_path: Path) -> None:
    write_report(tmp_path / "m", "m", "mmstar", "accuracy", 50.0)
    write_report(tmp_path / "m", "m", "ocrbench", "final_score", 800.0, scale="points")
    suite = Suite("t", (SuiteColumn("mmstar", "MMStar"), SuiteColumn("ocrbench", "OCRBench", points_max=1000)),
                  references=(ReferenceRow("paper", {"mmstar": 40.0, "ocrbench": 600.0}, "a paper"),), ranked=True)
    board = build_leaderboard([tmp_path], suite, references=True)
    assert board.rows[0].average == pytest.approx((50 + 80) / 2) and board.rows[0].average_rank == 1.0
    assert board.rows[1].reference == "a paper" and board.rows[1].average == pytest.approx(50.0)


def tsv_from_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    import pandas as pd

    table = [{**row, "image": base64.b64encode(row["image"]["bytes"]).decode()} for row in rows]
    pd.DataFrame(table).to_csv(path, sep="\t", index=False)
    return path


def reply(body: dict[str, Any], headers: Any) -> str:
    prompt = last_user_text(body)
    if "Imagine you are an intelligent teacher" in prompt:
        return "correct"
    if prompt.endswith("Extracted answer: "):
        return "A"
    if "Compare the ground truth and prediction" in prompt:
        return "0.5"
    return "A"


def test_suite_runs_end_to_end_on_demo_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_KEY", "k")
    registry = load_registry()
    root = tmp_path / "data"
    for name, folder in (("mmstar", "MMStar"), ("mmmu_val", "MMMU"), ("mathvista_testmini", "MathVista"),
                         ("ai2d", "ai2d"), ("hallusionbench", "HallusionBench"), ("ocrbench", "OCRBench")):
        write_demo_data(registry.get(name), root / folder)
    rows = registry.get("mmbench_v11_en_dev").demo_rows()
    tsv_from_rows(rows, root / "MMBench_DEV_EN_V11.tsv")  # type: ignore[arg-type]
    from tests.helpers import write_parquet

    write_parquet(root / "MMVet" / "test-00000-of-00001.parquet",
                  [mmvet_row(f"v1_{i}", "What color?", "red", "rec") for i in range(2)])
    out = tmp_path / "out"
    with FakeOpenAIServer(reply) as server:
        code = main(["run", "--suite", "open_vlm", "--model", "openai:fake-vlm", "--base-url", server.base_url,
                     "--api-key-env", "FAKE_KEY", "--data", str(root), "--output", str(out), "--no-progress",
                     "--judge", "judge-model", "--judge-base-url", server.base_url, "--judge-api-key-env", "FAKE_KEY"])
    assert code == 0, capsys.readouterr().err
    reports = {t: json.loads(next(out.rglob(f"{t}/report.json")).read_text(encoding="utf-8")) for t in TASKS}
    assert all(r["complete"] and r["scored"] for r in reports.values())
    assert reports["mmstar"]["metrics"]["accuracy"] == pytest.approx(100 / 3)  # "A" is right once
    assert reports["hallusionbench"]["metrics"]["aacc"] == 100.0  # the judge says correct every time
    capsys.readouterr()
    assert main(["leaderboard", str(out), "--suite", "open_vlm", "--reference"]) == 0
    table = capsys.readouterr().out
    assert "| 1 | openai:fake-vlm |" in table and table.count("| ref |") == 3
