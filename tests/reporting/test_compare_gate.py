"""`compare --fail-on-regression`: work missing from B fails the gate; thresholds must be numbers >= 0."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.reporting.test_compare import baseline, flip, sqa_records, write_run
from vlmeval.cli import main
from vlmeval.metrics import Record
from vlmeval.reporting.compare import compare


def _gate(a: Path, b: Path, capsys: pytest.CaptureFixture[str], threshold: str = "5") -> tuple[int, str]:
    code = main(["compare", str(a), str(b), "--fail-on-regression", threshold])
    return code, capsys.readouterr().out


def test_a_task_missing_from_b_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "a" / "sqa", "base", sqa_records(baseline()))
    write_run(tmp_path / "a" / "other", "base", sqa_records(baseline()))
    report = tmp_path / "a" / "other" / "report.json"
    data = json.loads(report.read_text())
    report.write_text(json.dumps({**data, "spec": {**data["spec"], "task": "mme"}}))
    write_run(tmp_path / "b" / "sqa", "new", sqa_records(baseline()))
    code, out = _gate(tmp_path / "a", tmp_path / "b", capsys)
    assert code == 1 and "**FAIL**" in out and "mme missing from B" in out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0  # no gate asked for


def test_fewer_samples_in_b_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a" / "sqa", tmp_path / "b" / "sqa"
    write_run(a, "base", sqa_records(baseline()))
    write_run(b, "new", sqa_records(baseline())[:300])  # same accuracy on what it answered
    code, out = _gate(a, b, capsys)
    assert code == 1 and "100 of A's 400 answered samples not" in out


def test_unanswered_samples_in_b_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a" / "sqa", tmp_path / "b" / "sqa"
    write_run(a, "base", sqa_records(baseline()))
    records = sqa_records(baseline())
    records[:3] = [Record(id=r.id, prompt=r.prompt, prediction=None, target=r.target, scores={"correct": 0.0},
                          failure="error", error="timeout", meta=r.meta) for r in records[:3]]
    write_run(b, "new", records)
    code, out = _gate(a, b, capsys)
    assert code == 1 and "3 of A's 400 answered samples not" in out


def test_same_coverage_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a" / "sqa", tmp_path / "b" / "sqa"
    write_run(a, "base", sqa_records(baseline()))
    write_run(b, "new", sqa_records(baseline()))
    code, out = _gate(a, b, capsys)
    assert code == 0 and "**PASS**" in out


@pytest.mark.parametrize("threshold", ["nan", "-1", "inf"])
def test_thresholds_must_be_numbers_of_points(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              threshold: str) -> None:
    a, b = tmp_path / "a" / "sqa", tmp_path / "b" / "sqa"
    write_run(a, "base", sqa_records(baseline(40)))
    write_run(b, "new", sqa_records(baseline(40)))
    assert main(["compare", str(a), str(b), f"--fail-on-regression={threshold}"]) == 2
    assert "--fail-on-regression" in capsys.readouterr().err


def test_a_drop_of_exactly_the_threshold_passes(tmp_path: Path) -> None:
    """"Fail when a metric drops by more than N points": a drop of N passes, a hair more fails."""
    a, b = tmp_path / "a" / "sqa", tmp_path / "b" / "sqa"
    write_run(a, "base", sqa_records(baseline()))
    write_run(b, "new", sqa_records(flip(baseline(), lose=60, gain=0)))  # 80 -> 65, significant
    drops = [-r.diff for t in compare(a, b, threshold=0.0).tasks for r in t.results
             if r.diff is not None and r.diff < 0 and r.test is not None and r.test.p_value < 0.05]
    largest = max(drops)
    assert largest >= 15.0
    at_the_boundary = compare(a, b, threshold=largest)
    assert at_the_boundary.regressions() == [] and at_the_boundary.exit_code == 0
    just_below = compare(a, b, threshold=math.nextafter(largest, 0.0))
    assert len(just_below.regressions()) >= 1 and just_below.exit_code == 1
