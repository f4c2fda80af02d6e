"""report.json through its one definition (vlmeval.reporting.record): round trip, old reports, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmeval.cli import main
from vlmeval.reporting.record import REPORT_SCHEMA_VERSION, Counts, ReportError, RunReport, load_report

BASELINE = Path(__file__).resolve().parents[2] / "results" / "baselines" / "demo-sqa"
# Both were produced by vlmeval itself (the demo model's run): they check that reading stays
# consistent with what earlier versions wrote, not that any number in them is correct.
VERSION_1 = Path(__file__).resolve().parents[1] / "fixtures" / "report-v1.json"  # the baseline as first committed


def test_round_trip_leaves_out_only_unset_optional_fields() -> None:
    report = RunReport("sqa", "m", 2, True, "accuracy", True, Counts(answered=2, failures={"empty": 1}),
                       metrics={"accuracy": 50.0}, metric_scales={"accuracy": "percent"},
                       identity={"model": "m"})
    data = report.to_json()
    assert data["schema_version"] == REPORT_SCHEMA_VERSION and data["counts"]["failures"] == {"empty": 1}
    assert "summary" not in data and "artifacts" not in data and data["identity"] == {"model": "m"}
    assert RunReport.from_json(json.loads(json.dumps(data))) == report


def test_a_version_1_report_loads_and_so_does_the_committed_baseline() -> None:
    assert load_report(BASELINE / "report.json").task == "sqa"
    report = load_report(VERSION_1)
    assert report.task == "sqa" and report.metric_scales["accuracy"] == "percent"
    assert report.counts.answered == report.n_samples == 60 and report.schema_version == REPORT_SCHEMA_VERSION
    assert report.ci_method is not None and report.ci_method.method["accuracy"] == "percentile bootstrap"


@pytest.mark.parametrize(("change", "message"), [
    ({"schema_version": None}, "schema_version None is not one vlmeval wrote"),
    ({"schema_version": 99}, "schema_version 99 is newer than this vlmeval reads"),
    ({"metrics": {"accuracy": "high"}}, "metric 'accuracy' is 'high', not a finite number"),
    ({"metrics": []}, "'metrics' is not an object"),
    ({"counts": {"answerd": 1}}, "unexpected field layout"),
    ({"task": None}, "lacks task"),
])
def test_unreadable_reports_are_refused_in_one_line(tmp_path: Path, change: dict[str, object],
                                                    message: str) -> None:
    data = json.loads(VERSION_1.read_text(encoding="utf-8"))
    data.update(change)
    data = {k: v for k, v in data.items() if v is not None or k == "schema_version"}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReportError) as caught:
        load_report(path)
    assert message in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_compare_names_the_bad_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "report.json").write_text(json.dumps({"task": "sqa"}), encoding="utf-8")
    assert main(["compare", str(BASELINE), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "schema_version" in err and str(tmp_path) in err
