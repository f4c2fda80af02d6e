"""`vlmeval trend`: runs ordered by the step in their label, intervals, significant moves marked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reporting.test_compare import baseline, flip, sqa_records, write_run
from vlmeval.cli import main
from vlmeval.errors import UsageError
from vlmeval.reporting.trend import build_trend, render_markdown, step_of


def _labelled_runs(root: Path) -> dict[int, list[int]]:
    """Four steps of sqa: a big gain at 900, flat at 1000, a big drop at 10000 (below the best)."""
    base = baseline(400)  # 80%
    steps = {200: flip(base, lose=60, gain=0), 900: base, 1000: flip(base, lose=1, gain=1),
             10000: flip(base, lose=70, gain=0)}
    for step, correct in steps.items():
        report = write_run(root / f"step-{step}" / "sqa", "m", sqa_records(correct))
        path = root / f"step-{step}" / "sqa" / "report.json"
        report["spec"]["label"] = f"step-{step}"
        path.write_text(json.dumps(report))
    return steps


def test_steps_are_ordered_numerically_and_moves_marked(tmp_path: Path) -> None:
    _labelled_runs(tmp_path)
    trend = build_trend(sorted(tmp_path.iterdir()), primary_only=True)  # step-10000 sorts before step-200 as text
    accuracy = trend.metrics[0]
    assert [p.step for p in accuracy.points] == [200, 900, 1000, 10000]
    assert [p.value for p in accuracy.points] == pytest.approx([65.0, 80.0, 80.0, 62.5])
    first, gain, flat, drop = accuracy.points
    assert first.vs_previous is None
    assert gain.vs_previous is not None and gain.vs_previous.significant and gain.vs_previous.diff > 0
    assert flat.vs_previous is not None and not flat.vs_previous.significant
    assert drop.vs_previous is not None and drop.vs_previous.significant and drop.vs_previous.diff < 0
    assert drop.vs_best is not None and drop.vs_best.against == 900 and drop.vs_best.significant
    text = render_markdown(trend)
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split("|")[1].strip() for row in rows] == ["200", "900", "1000", "10000"]
    assert "▲" in rows[1] and "▲" not in rows[2] and "▼" not in rows[2]
    assert "▼" in rows[3] and "below best (step 900)" in rows[3]


def test_html_page_is_self_contained_with_a_chart_per_metric(tmp_path: Path) -> None:
    _labelled_runs(tmp_path / "runs")
    page = tmp_path / "trend.html"
    assert main(["trend", *map(str, sorted((tmp_path / "runs").iterdir())), "-o", str(page)]) == 0
    text = page.read_text()
    assert text.count("<svg") == 9  # sqa's nine metrics
    assert "src=" not in text and "<script" not in text and "http://" not in text.replace(
        "http://www.w3.org/2000/svg", "")
    assert main(["trend", str(tmp_path / "runs"), "--format", "md", "--primary-only",
                 "-o", str(tmp_path / "t.md")]) == 0
    assert "| 10000 |" in (tmp_path / "t.md").read_text()


@pytest.mark.slow
def test_charts_writes_one_png_per_metric(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    _labelled_runs(tmp_path / "runs")
    assert main(["trend", str(tmp_path / "runs"), "--primary-only", "-o", str(tmp_path / "t.html"),
                 "--charts", str(tmp_path / "png")]) == 0
    charts = list((tmp_path / "png").iterdir())
    assert [c.name for c in charts] == ["trend-sqa-accuracy.png"]
    assert charts[0].read_bytes().startswith(b"\x89PNG")


def test_a_run_without_a_step_number_is_refused(tmp_path: Path) -> None:
    write_run(tmp_path / "baseline" / "sqa", "m", sqa_records(baseline(40)))
    with pytest.raises(UsageError, match="has no step number"):
        build_trend([tmp_path / "baseline"])
    assert step_of("ckpt_2000") == 2000 and step_of("step-9") == 9 and step_of(None) is None
