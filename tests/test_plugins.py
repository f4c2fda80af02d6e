"""Tasks arrive through one mechanism: entry points (built-in and third-party) and named folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import vlmeval, write_jsonl, write_parquet

REPO = Path(__file__).resolve().parent.parent
FIXTURE_PACKAGE = Path(__file__).parent / "fixtures" / "plugin_pkg"

TOY_ROWS = [
    {"qid": 10, "question": "Is the sky blue?", "answer": "Yes", "kind": "color"},
    {"qid": 11, "question": "Is fire cold?", "answer": "No", "kind": "temperature"},
    {"qid": 12, "question": "Is snow white?", "answer": "Yes", "kind": "color"},
]


def _pip_target(source: Path, target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True,
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VLMEVAL_TASKS_PATH"}
    env.update(extra)
    return env


@pytest.mark.slow
def test_installed_third_party_package_registers_and_scores(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(FIXTURE_PACKAGE, source)
    _pip_target(source, tmp_path / "site")
    env = _env(PYTHONPATH=str(tmp_path / "site"))
    listed = vlmeval("tasks", env=env)
    assert listed.returncode == 0 and "toy_yesno" in listed.stdout and "sqa" in listed.stdout

    data = write_parquet(tmp_path / "toy.parquet", TOY_ROWS)
    predictions = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "10", "prediction": "yes"}, {"id": "11", "prediction": "Yes"}, {"id": "12", "prediction": "YES"},
    ])
    scored = vlmeval("score", "--task", "toy_yesno", "--data", str(data), "--predictions", str(predictions),
                     "--output", str(tmp_path / "out"), env=env)
    assert scored.returncode == 0, scored.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert abs(report["metrics"]["exact_match"] - 200 / 3) < 1e-9
    assert report["breakdown"]["kind"]["color"] == {"exact_match": 100.0, "n": 2}


@pytest.mark.slow
def test_tasks_dir_env_path_and_broken_files(tmp_path: Path) -> None:
    folder = tmp_path / "mytasks"
    folder.mkdir()
    shutil.copy(FIXTURE_PACKAGE / "vlmeval_toy_tasks" / "__init__.py", folder / "toy.py")
    (folder / "broken.py").write_text("import does_not_exist\n")
    by_flag = vlmeval("tasks", "--tasks-dir", str(folder), env=_env())
    assert by_flag.returncode == 0 and "toy_yesno" in by_flag.stdout
    assert f"{folder / 'broken.py'} failed to import: ModuleNotFoundError" in by_flag.stderr
    by_env = vlmeval("tasks", env=_env(VLMEVAL_TASKS_PATH=str(folder)))
    assert "toy_yesno" in by_env.stdout
    # A folder is never imported unless named.
    assert "toy_yesno" not in vlmeval("tasks", env=_env()).stdout


@pytest.mark.slow
def test_non_editable_install_finds_builtin_tasks_and_demo_data(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("vlmeval", "tasks"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    _pip_target(source, tmp_path / "site")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = _env(PYTHONPATH=str(tmp_path / "site"))
    where = subprocess.run([sys.executable, "-c", "import vlmeval, vlmeval_tasks; print(vlmeval.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, check=False)
    assert where.stdout.startswith(str(tmp_path / "site")), where.stdout + where.stderr
    listed = vlmeval("tasks", cwd=elsewhere, env=env)
    assert "sqa" in listed.stdout, listed.stderr
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "0", "prediction": "A"}])
    scored = vlmeval("score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions),
                     "--output", str(tmp_path / "out"), cwd=elsewhere, env=env)
    assert scored.returncode == 3, scored.stderr  # scored, but 59 samples have no prediction
    assert json.loads((tmp_path / "out" / "report.json").read_text())["counts"]["missing"] == 59
