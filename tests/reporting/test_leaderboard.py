"""`vlmeval leaderboard`: three runs in every format, sorting and averaging rules, inert HTML."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from vlmeval.cli import main
from vlmeval.io import atomic_write_json
from vlmeval.reporting.leaderboard import build_leaderboard
from vlmeval.reporting.leaderboard_formats import render

PNG = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert(1)</script>"


def write_report(folder: Path, model: str, task: str, metric: str, value: float, scale: str = "percent",
                 created: str = "2026-01-01T00:00:00+00:00", **extra: Any) -> Path:
    report = {
        "schema_version": 2, "n_samples": 100, "complete": True, "counts": {"answered": 100},
        "task": task, "model": model, "scored": True, "primary_metric": metric,
        "metrics": {metric: value}, "metrics_n": {metric: 100}, "ci": {metric: [value - 2, value + 2]},
        "metric_scales": {metric: scale}, "created": created,
        "breakdown": {"subject": {"a": {metric: value - 5, "n": 50}, "b": {metric: value + 5, "n": 50}}},
        **extra,
    }
    path = folder / task / "report.json"
    atomic_write_json(path, report)
    return path


@pytest.fixture()
def three_runs(tmp_path: Path) -> list[Path]:
    runs = [tmp_path / "llava-7b", tmp_path / "llava-13b", tmp_path / "evil"]
    for folder, model, sqa, mmb, mme in ((runs[0], "llava-7b", 70.0, 60.0, 1500.0),
                                         (runs[1], "llava-13b", 75.0, 68.0, 1530.0),
                                         (runs[2], EVIL, 50.0, 40.0, None)):
        write_report(folder, model, "sqa", "accuracy", sqa)
        write_report(folder, model, "mmb", "circular_accuracy", mmb)
        if mme is not None:
            write_report(folder, model, "mme", "perception", mme, scale="points")
    return runs


def test_table_sorting_and_average(three_runs: list[Path]) -> None:
    board = build_leaderboard(three_runs)
    assert [c.task for c in board.columns] == ["mmb", "mme", "sqa"]
    assert board.averaged == ["mmb", "sqa"]  # MME points are not averaged with percentages
    assert [(r.name, r.average) for r in board.rows] == [("llava-13b", 71.5), ("llava-7b", 65.0), (EVIL, 45.0)]


def test_every_format(three_runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board = build_leaderboard(three_runs)
    md = render(board, "md").splitlines()
    assert md[0] == "| # | model | average | mmb (circular_accuracy) | mme (perception, points) | sqa (accuracy) |"
    assert md[2] == "| 1 | llava-13b | 71.50 | **68.00** | **1530.00** | **75.00** |"
    assert md[4] == "| 3 | \\<script\\>alert(1)\\</script\\> | 45.00 | 40.00 |  | 50.00 |"  # no inline HTML

    rows = list(csv.reader(io.StringIO(render(board, "csv"))))
    assert rows[0][:3] == ["rank", "model", "average"] and rows[1][1:] == ["llava-13b", "71.50", "68.00",
                                                                         "1530.00", "75.00"]
    assert rows[3][1] == EVIL and rows[3][4] == ""

    latex = render(board, "latex")
    assert r"\begin{tabular}{lrrrr}" in latex and r"\end{tabular}" in latex
    assert r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{}" in latex
    assert r"circular\_accuracy" in latex and r"\textbf{75.00}" in latex

    data = json.loads(render(board, "json"))
    assert data["average_over"] == ["mmb", "sqa"]
    assert [m["model"] for m in data["models"]] == ["llava-13b", "llava-7b", EVIL]
    assert data["models"][0]["results"]["mme"] == {
        "metric": "perception", "value": 1530.0, "ci": [1528.0, 1532.0], "n": 100, "scale": "points",
        "report": str(three_runs[1] / "mme" / "report.json")}

    out = tmp_path / "board.html"
    assert main(["leaderboard", *map(str, three_runs), "--format", "html", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "llava-13b" in page
    assert main(["leaderboard", str(three_runs[0]), "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("rank,model,average,")


def test_html_is_self_contained_and_inert(three_runs: list[Path], tmp_path: Path) -> None:
    write_report(tmp_path / "other", "<b onmouseover=alert(2)>m</b>", '<img src=x onerror="alert(3)">', "acc", 10.0)
    page = render(build_leaderboard([*three_runs, tmp_path / "other"]), "html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(3)&quot;&gt;" in page and "&lt;b onmouseover" in page
    assert not re.search(r"<\s*(script|b |img src=x)", page, re.IGNORECASE)
    assert "<link" not in page and 'src="http' not in page  # nothing fetched from elsewhere
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 4  # a bar chart per task and a per-category chart per task
    assert all(base64.b64decode(data).startswith(PNG) for data in images)


def test_missing_tasks_duplicates_and_unscored(tmp_path: Path) -> None:
    write_report(tmp_path / "m1", "m1", "t1", "acc", 90.0)  # has no t2: no average, listed last
    write_report(tmp_path / "m2", "m2", "t1", "acc", 50.0)
    write_report(tmp_path / "m2", "m2", "t2", "acc", 50.0)
    write_report(tmp_path / "m2-old", "m2", "t2", "acc", 99.0, created="2025-01-01T00:00:00+00:00")
    unscored = write_report(tmp_path / "m3", "m3", "t1", "acc", 0.0)
    report = json.loads(unscored.read_text(encoding="utf-8"))
    report["metrics"] = {}
    atomic_write_json(unscored, report)
    board = build_leaderboard([tmp_path])
    assert [(r.name, r.average) for r in board.rows] == [("m2", 50.0), ("m1", None)]
    assert any("m2 on t2: using" in w and "m2-old" in w for w in board.warnings)
    assert any("unscored" in w for w in board.warnings)
    assert main(["leaderboard", str(tmp_path / "nowhere")]) == 2
