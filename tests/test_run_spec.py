"""RunSpec (vlmeval.run_spec): run.json's content, typed once, and embedded whole as report.json's `spec`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.scripted import ScriptedBackend
from vlmeval.cli import main
from vlmeval.run_spec import Invocation, RunSpec



def test_run_json_is_a_run_spec_and_the_report_embeds_it(tmp_path: Path, scripted: ScriptedBackend) -> None:
    assert main(["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--limit", "4", "--output",
                 str(tmp_path), "--run-name", "r", "--label", "step-1", "--seed", "7", "--no-progress"]) == 0
    run_dir = tmp_path / "r" / "sqa"
    written = json.loads((run_dir / "run.json").read_text())
    spec = RunSpec.from_json(written)
    assert json.dumps(spec.to_json(), sort_keys=True) == json.dumps(written, sort_keys=True)
    assert spec.invocation == Invocation("demo", None, 4, ()) and spec.label == "step-1"
    report = json.loads((run_dir / "report.json").read_text())
    # The report's spec is run.json's, the run name (the folder's) added.
    assert json.dumps(report["spec"], sort_keys=True) == json.dumps({**written, "run_name": "r"}, sort_keys=True)
    assert report["spec"]["generation"]["seed"] == 7 and "seed" not in report  # stated once, in generation
    assert "--label step-1" in report["spec"]["command"] and "command" not in report


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("label", 3, "field 'label' is a number, expected string"),
    ("created_by", "me", "field 'created_by' is a string, expected object"),
])
def test_a_run_spec_field_of_the_wrong_type_is_one_line(tmp_path: Path, scripted: ScriptedBackend,
                                                        capsys: pytest.CaptureFixture[str], field: str,
                                                        value: object, expected: str) -> None:
    args = ["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--limit", "2", "--output",
            str(tmp_path), "--run-name", "r", "--no-progress"]
    assert main(args) == 0
    run_file = tmp_path / "r" / "sqa" / "run.json"
    run_file.write_text(json.dumps({**json.loads(run_file.read_text()), field: value}))
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"vlmeval: error: {run_file}: ") and expected in err and "\n" not in err


def test_a_run_json_of_the_previous_version_resumes_and_its_identity_is_still_checked(
        tmp_path: Path, scripted: ScriptedBackend, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--limit", "4", "--output",
            str(tmp_path), "--run-name", "r", "--no-progress"]
    assert main(args) == 0
    run_file = tmp_path / "r" / "sqa" / "run.json"
    old = json.loads(run_file.read_text())
    del old["command"]  # run.json as vlmeval wrote it before the spec recorded the command line
    run_file.write_text(json.dumps(old))
    scripted.calls.clear()
    assert main(args) == 0 and scripted.calls == []  # every answer reused
    resumed = json.loads(run_file.read_text())  # the resuming run records its command line
    assert resumed == {**old, "command": resumed["command"]} and "--limit 4" in resumed["command"]
    report = json.loads((tmp_path / "r" / "sqa" / "report.json").read_text())
    assert json.dumps(report["spec"]["identity"], sort_keys=True) == json.dumps(old["identity"], sort_keys=True)
    capsys.readouterr()
    assert main([*args, "--temperature", "0.5"]) == 2  # another setting is still refused, as before
    assert "holds answers of another run" in capsys.readouterr().err
    assert json.loads(run_file.read_text()) == resumed
