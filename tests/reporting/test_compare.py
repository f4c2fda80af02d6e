"""`vlmeval compare`: exit codes for a regression, an improvement and noise; flags; report intervals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import vlmeval
from vlmeval.cli import main
from vlmeval.metrics import Record
from vlmeval.registry import load_registry
from vlmeval.reporting.record import Counts, RunReport
from vlmeval.reporting.report import build_report, write_outputs
from vlmeval.run_spec import RunSpec

PNG = b"\x89PNG\r\n\x1a\n"
SUBJECTS = ("natural science", "social science", "language science")


def sqa_records(correct: list[int], prompt: str = "Question {i}?") -> list[Record]:
    """Scored records in the shape the sqa task writes (its metrics read these meta fields)."""
    return [
        Record(id=str(i), prompt=prompt.format(i=i), prediction="A" if c else "B", answer="A" if c else "B",
               target="A", scores={"correct": float(c)},
               meta={"n_choices": 4, "has_image": i % 2 == 0, "has_hint": i % 3 == 0,
                     "subject": SUBJECTS[i % 3], "grade": f"grade{1 + i % 12}"})
        for i, c in enumerate(correct)
    ]


def write_run(folder: Path, model: str, records: list[Record], fingerprint: str = "fp0",
              charts: bool = False) -> dict[str, Any]:
    task = load_registry().get("sqa")
    run_info = RunSpec(dataset={"source": "synthetic", "split": "test", "n_rows": len(records),
                                "fingerprint": fingerprint},
                       generation={"temperature": 0.0}, backend={"prompt_style": "chat"})
    report = build_report(task, records, model, True, run_info)
    write_outputs(folder, records, report, charts=charts)
    return report.to_json()


def baseline(n: int = 400) -> list[int]:
    return [int(i % 5 != 0) for i in range(n)]  # 80% right


def flip(correct: list[int], lose: int, gain: int) -> list[int]:
    """Turn the first `lose` right answers wrong and the first `gain` wrong answers right."""
    out = list(correct)
    rights = [i for i, c in enumerate(correct) if c][:lose]
    wrongs = [i for i, c in enumerate(correct) if not c][:gain]
    for i in rights:
        out[i] = 0
    for i in wrongs:
        out[i] = 1
    return out


@pytest.fixture()
def runs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "a" / "sqa", tmp_path / "b" / "sqa"


def compare(a: Path, b: Path, *flags: str) -> int:
    return main(["compare", str(a), str(b), *flags])


def test_a_significant_regression_fails(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = runs
    write_run(a, "base", sqa_records(baseline()))
    write_run(b, "new", sqa_records(flip(baseline(), lose=60, gain=0)))  # 80 -> 65
    assert compare(a, b, "--fail-on-regression", "5") == 1
    out = capsys.readouterr().out
    assert "**FAIL**" in out and "❌ **regression**" in out
    row = next(line for line in out.splitlines() if line.startswith("| accuracy |"))
    assert "| 80.00 | 65.00 | -15.00 |" in row and "McNemar exact (b=60, c=0)" in row
    # Without the flag the same comparison only reports.
    assert compare(a, b) == 0
    assert "No gate" in capsys.readouterr().out
    # A drop smaller than the threshold does not fail, significant or not.
    assert compare(a, b, "--fail-on-regression", "20") == 0


def test_an_improvement_passes(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = runs
    write_run(a, "base", sqa_records(baseline()))
    write_run(b, "new", sqa_records(flip(baseline(), lose=0, gain=60)))
    assert compare(a, b, "--fail-on-regression", "5") == 0
    out = capsys.readouterr().out
    assert "**PASS**" in out and "▲ better" in out and "regression" not in out.split("### sqa")[1]


def test_noise_passes(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = runs
    write_run(a, "base", sqa_records(baseline()))
    write_run(b, "new", sqa_records(flip(baseline(), lose=9, gain=3)))  # -1.5 points, p = 0.15
    assert compare(a, b, "--fail-on-regression", "1") == 0
    assert "**PASS**" in capsys.readouterr().out


def test_a_large_drop_on_few_samples_is_not_significant(runs: tuple[Path, Path]) -> None:
    a, b = runs
    write_run(a, "base", sqa_records([1] * 20))
    write_run(b, "new", sqa_records([0, 0] + [1] * 18))  # -10 points, McNemar p = 0.5
    assert compare(a, b, "--fail-on-regression", "5") == 0
    assert compare(a, b, "--fail-on-regression", "5", "--alpha", "0.6") == 1


def test_runs_over_other_samples_or_prompts_are_flagged(runs: tuple[Path, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    a, b = runs
    write_run(a, "base", sqa_records(baseline()))
    other = sqa_records(baseline(), prompt="Question {i}? Think step by step.")[:380]
    write_run(b, "new", other, fingerprint="fp1")
    assert compare(a, b, "--fail-on-regression", "5") == 1  # B lacks 20 of A's samples: not a pass
    out = capsys.readouterr().out
    assert "different samples: 20 ids only in A, 0 only in B; compared on the 380 shared ids" in out
    assert "different dataset fingerprints (fp0 vs fp1)" in out
    assert "different prompts: 380 of 380 shared samples were asked differently" in out


def test_folders_of_runs_files_chart_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "results" / "base" / "sqa", tmp_path / "results" / "new" / "sqa"
    write_run(a, "base", sqa_records(baseline()))
    write_run(b, "new", sqa_records(flip(baseline(), lose=30, gain=0)))
    summary, chart = tmp_path / "summary.md", tmp_path / "chart.png"
    # A folder holding task folders, and a report file, are run paths too.
    code = compare(a.parent, b / "report.json", "--fail-on-regression", "5", "-o", str(summary),
                   "--chart", str(chart), "--primary-only")
    assert code == 1
    out = capsys.readouterr().out
    assert summary.read_text(encoding="utf-8") == out and "| img_accuracy" not in out
    assert chart.read_bytes().startswith(PNG) and chart.stat().st_size > 1000
    (b / "predictions.jsonl").unlink()
    assert compare(a, b) == 2
    assert "no predictions.jsonl" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_command_line_exit_code(runs: tuple[Path, Path]) -> None:
    a, b = runs
    write_run(a, "base", sqa_records(baseline()))
    write_run(b, "new", sqa_records(flip(baseline(), lose=60, gain=0)))
    done = vlmeval("compare", str(a), str(b), "--fail-on-regression", "5")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("## vlmeval compare")


def test_report_carries_intervals_and_charts(tmp_path: Path) -> None:
    correct = baseline(300)
    report = write_run(tmp_path, "base", sqa_records(correct), charts=True)
    assert set(report["ci"]) == set(report["metrics"]) and set(report["metric_scales"]) == set(report["metrics"])
    for name, (low, high) in report["ci"].items():
        assert low <= report["metrics"][name] <= high, name
        assert report["ci_method"]["n_units"][name] == report["metrics_n"][name]
    assert report["ci_method"]["method"]["accuracy"] == "percentile bootstrap"
    low, high = report["ci"]["accuracy"]
    assert 74.0 < low < 78.0 and 82.0 < high < 86.0  # 80% of 300: s.e. 2.3 points
    for name, group in report["breakdown"]["subject"].items():
        low, high = report["breakdown_ci"]["subject"][name]
        assert low <= group["accuracy"] <= high
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    for by in ("subject", "grade"):
        assert f"![accuracy by {by}](chart-{by}.png)" in markdown
        assert (tmp_path / f"chart-{by}.png").read_bytes().startswith(PNG)
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["ci"] == report["ci"]
    plain = tmp_path / "no-charts"  # charts are opt-in (--charts): by default none is drawn or linked
    write_run(plain, "base", sqa_records(correct))
    assert not list(plain.glob("chart-*")) and "![" not in (plain / "report.md").read_text(encoding="utf-8")


def test_only_higher_is_better_scales_are_gated(tmp_path: Path) -> None:
    from vlmeval.reporting.compare import Comparison, Run, TaskComparison
    from vlmeval.stats.inference import TestResult
    from vlmeval.stats.paired import PairedResult

    significant = TestResult("McNemar exact", 0.001)
    results = [PairedResult(name, 50.0, 40.0, -10.0, (-14.0, -6.0), 100, significant, 1000)
               for name in ("acc", "mme", "unresolved", "acc_std")]
    run = Run(tmp_path, RunReport("t", "m", 0, True, "acc", True, Counts()), [])
    scales = {"acc": "percent", "mme": "points", "unresolved": "count", "acc_std": "spread"}
    comparison = Comparison("a", "b", [TaskComparison("t", run, run, results, scales)], [], [], 5.0, 0.05, 1000)
    assert [comparison.status(comparison.tasks[0], r) for r in results] == [
        "regression", "regression", "lower", "lower"]
    assert comparison.exit_code == 1
