"""The seed models' suites (`deepseek_vl2`, `phi3_5_vision`, `florence2`): their references name their
own tasks, and each runs end to end on its tasks' demo rows (real hub schemas) with a scripted model."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from tests.fakes.scripted import ScriptedBackend
from tests.helpers import png_bytes
from vlmeval.demo_data import write_demo_rows as write_demo_data
from vlmeval.cli import main
from vlmeval.registry import load_registry
from vlmeval.suite import registered_suites


def test_every_reference_names_tasks_of_its_suite() -> None:
    load_registry()
    suites = registered_suites()
    assert {"deepseek_vl2", "phi3_5_vision", "florence2"} <= set(suites)
    for name, factory in suites.items():
        suite = factory()
        for row in suite.references:
            assert row.values and set(row.values) <= set(suite.tasks), (name, row.label)
            assert all(math.isfinite(v) for v in row.values.values()) and row.source, (name, row.label)
    assert registered_suites()["deepseek_vl2"]().references[1].values["ocrbench"] == 834
    assert registered_suites()["florence2"]().references[1].values == {"coco_karpathy_test": 135.6,
                                                                         "nocaps_val": 120.8}


def build_root(root: Path, tasks: list[str]) -> Path:
    """Each task's demo rows in a folder named after the task (a config's rows in its subfolder)."""
    registry = load_registry()
    for name in tasks:
        task = registry.get(name)
        if task.data.demo is not None:
            (root / name).mkdir(parents=True)
            shutil.copy(task.data.demo, root / name / f"{task.data.split}-00000-of-00001.parquet")
        elif task.data.config is not None and task.demo_rows is not None:
            write_demo_data(task, root / name / task.data.config)
        else:
            write_demo_data(task, root / name)
    return root


def run_suite(suite: str, root: Path, out: Path) -> int:
    return main(["run", "--suite", suite, "--model", "scripted", "--data", str(root), "--output", str(out),
                 "--no-progress"])


@pytest.mark.parametrize("suite, header", [
    ("deepseek_vl2", "| # | model | DocVQA | InfoVQA | ChartQA | TextVQA | OCRBench (points) |"),
    ("phi3_5_vision", "| # | model | MMBench (dev-en) | ScienceQA (img-test) | ChartQA (test) | TextVQA (val) "
                      "| POPE (test) |"),
])
def test_suite_runs_end_to_end_on_demo_data(suite: str, header: str, tmp_path: Path, scripted: ScriptedBackend,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    tasks = registered_suites()[suite]().tasks
    out = tmp_path / "out"
    assert run_suite(suite, build_root(tmp_path / "data", tasks), out) == 0
    for name in tasks:
        report = json.loads((out / "scripted" / name / "report.json").read_text(encoding="utf-8"))
        assert report["complete"] and report["n_samples"] >= 2, name
    if suite == "deepseek_vl2":
        assert (out / "scripted" / "docvqa_test" / "submission.json").is_file()
    capsys.readouterr()
    assert main(["leaderboard", str(out), "--suite", suite]) == 0
    assert capsys.readouterr().out.splitlines()[0] == header


@pytest.mark.slow  # the caption scorers start JVMs
def test_florence2_suite_runs_end_to_end(tmp_path: Path, scripted: ScriptedBackend,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from vlmeval_tasks.captions import karpathy_demo

    images = tmp_path / "val2014"
    images.mkdir()
    for row in karpathy_demo():
        (images / row["filename"]).write_bytes(png_bytes((9, 9, 9)))
    monkeypatch.setenv("VLMEVAL_COCO_IMAGES", str(images))
    out = tmp_path / "out"
    assert run_suite("florence2", build_root(tmp_path / "data", ["coco_karpathy_test", "nocaps_val"]), out) == 0
    for name in ("coco_karpathy_test", "nocaps_val"):
        report = json.loads((out / "scripted" / name / "report.json").read_text(encoding="utf-8"))
        assert report["complete"] and "cider" in report["metrics"], name
    capsys.readouterr()
    assert main(["leaderboard", str(out), "--suite", "florence2"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == \
        "| # | model | COCO Cap. (Karpathy test) CIDEr (points) | NoCaps (val) CIDEr (points) |"
