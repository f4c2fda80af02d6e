"""report.json through its one definition (vlmeval.reporting.record): round trip, old reports, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmeval.cli import main
from vlmeval.reporting.record import REPORT_SCHEMA_VERSION, Counts, ReportError, RunReport, load_report
from vlmeval.engine.identity import DatasetIdentity, RunIdentity
from vlmeval.run_spec import RunSpec

BASELINE = Path(__file__).resolve().parents[2] / "results" / "baselines" / "demo-sqa"
# Both were produced by vlmeval itself (the demo model's run): they check that reading stays
# consistent with what earlier versions wrote, not that any number in them is correct.
VERSION_1 = Path(__file__).resolve().parents[1] / "fixtures" / "report-v1.json"  # the baseline as first committed


def test_round_trip_leaves_out_only_unset_optional_fields() -> None:
    identity = RunIdentity("sqa", 1, "m", "replay", {"seed": 0}, DatasetIdentity("demo", "demo", "test", 2, "f"))
    spec = RunSpec(task="sqa", model="m", identity=identity, label="step-1")
    report = RunReport(spec, 2, True, "accuracy", True, Counts(answered=2, failures={"empty": 1}),
                       metrics={"accuracy": 50.0}, metric_scales={"accuracy": "percent"})
    data = report.to_json()
    assert data["schema_version"] == REPORT_SCHEMA_VERSION == 3 and data["counts"]["failures"] == {"empty": 1}
    assert "summary" not in data and "artifacts" not in data
    assert json.dumps(data["spec"], sort_keys=True) == json.dumps(spec.to_json(), sort_keys=True)
    # What was run is stated once, in `spec`: no flat copy of a run field beside it.
    assert not {"task", "model", "label", "identity", "dataset", "generation", "command"} & set(data)
    assert RunReport.from_json(json.loads(json.dumps(data))) == report
    assert data["spec"]["identity"]["dataset"]["fingerprint"] == "f"  # the typed identity, as run.json has it


def test_a_version_2_report_reads_its_flat_run_fields_into_the_spec() -> None:
    flat = json.loads((BASELINE / "report.json").read_text(encoding="utf-8"))
    assert flat["schema_version"] == 2  # the committed baseline, written before the spec was embedded
    report = load_report(BASELINE / "report.json")
    assert (report.spec.task, report.spec.model) == (flat["task"], flat["model"]) == (report.task, report.model)
    assert json.dumps(report.spec.dataset, sort_keys=True) == json.dumps(flat["dataset"], sort_keys=True)
    assert json.dumps(report.spec.generation, sort_keys=True) == json.dumps(flat["generation"], sort_keys=True)
    assert report.spec.command == flat["command"] and report.spec.run_name == flat.get("run_name")
    assert report.spec.identity is not None  # typed; the fields added since read as their defaults
    typed = report.spec.identity.to_json()
    old = flat["identity"]
    assert {name: typed[name] for name in old if name != "dataset"} == {k: v for k, v in old.items() if k != "dataset"}
    assert {name: typed["dataset"][name] for name in old["dataset"]} == old["dataset"]
    subset = {"name": "quick", "n": 2, "of": 9, "ids_hash": "h", "expected_half_width": {"accuracy": 30.0}}
    moved = RunReport.from_json({**flat, "subset": subset})
    assert moved.spec.subset == {"name": "quick", "n": 2, "of": 9, "ids_hash": "h"}
    assert moved.expected_half_width == {"accuracy": 30.0}


def test_a_version_1_reports_top_level_seed_joins_its_generation_settings() -> None:
    old = json.loads(VERSION_1.read_text(encoding="utf-8"))
    report = RunReport.from_json({**old, "seed": 5, "generation": {"max_new_tokens": 3}})
    assert report.spec.generation == {"seed": 5, "max_new_tokens": 3}


@pytest.mark.parametrize(("spec", "message"), [
    ({"model": "m"}, "'spec.task' is not a string"),
    ({"task": "sqa", "model": "m", "label": 3}, "'spec.label' is a int, not str"),
    ({"task": "sqa", "model": "m", "dataset": []}, "'spec.dataset' is a list, not dict"),
    ("sqa", "'spec' is not an object"),
    ({"task": "sqa", "model": "m", "identity": {"task": "sqa"}}, "'spec.identity': unreadable identity"),
])
def test_a_version_3_report_with_a_bad_spec_is_refused(tmp_path: Path, spec: object, message: str) -> None:
    data = RunReport(RunSpec(task="sqa", model="m"), 0, True, "accuracy", True, Counts()).to_json()
    path = tmp_path / "report.json"
    path.write_text(json.dumps({**data, "spec": spec}), encoding="utf-8")
    with pytest.raises(ReportError) as caught:
        load_report(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


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
