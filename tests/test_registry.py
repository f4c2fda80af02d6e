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


TOY_TASK = '''
from vlmeval import DataSpec, Task, mean_metric, per_sample, task, Scored, Sample


@task("{name}")
def toy() -> Task:
    return Task({stated}description="toy", data=DataSpec(hub="x/y", split="test", columns=("q",), image_column=None),
                to_sample=lambda row, i: Sample(id=str(i), text=str(row["q"])),
                scorer=per_sample(lambda s, p: Scored(p, {{"ok": 1.0}})), metrics=(mean_metric("ok", "ok"),))
'''


def _folder_with(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "mytasks"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_a_folder_task_named_like_a_builtin_is_an_error_naming_both_files(
        tmp_path: Path, own_registrations: None) -> None:
    from vlmeval.errors import UsageError
    from vlmeval.registry import load_registry

    folder = _folder_with(tmp_path, {"mine.py": TOY_TASK.format(name="sqa", stated="")})
    with pytest.raises(UsageError) as raised:
        load_registry([str(folder)])
    message = str(raised.value)
    assert "\n" not in message and "task 'sqa' is defined twice" in message
    assert str(REPO / "tasks" / "scienceqa.py") in message and str(folder / "mine.py") in message


def test_a_task_name_is_stated_once_and_a_different_one_is_an_error(tmp_path: Path, own_registrations: None) -> None:
    from vlmeval.errors import UsageError
    from vlmeval.registry import load_registry

    folder = _folder_with(tmp_path, {"a.py": TOY_TASK.format(name="toy_unnamed", stated=""),
                                     "b.py": TOY_TASK.format(name="toy_other", stated='name="toy_b", ')})
    registry = load_registry([str(folder)])
    assert registry.get("toy_unnamed").name == "toy_unnamed"  # filled in from @task
    with pytest.raises(UsageError, match=r"task 'toy_other' registered by @task in .*b\.py returns a Task "
                                         r"named 'toy_b'; name a task once, in @task"):
        registry.get("toy_other")


def test_an_entry_point_naming_a_package_imports_each_of_its_modules(
        tmp_path: Path, own_registrations: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """How a new file in a source checkout's tasks/ is found without re-installing."""
    from importlib.metadata import EntryPoint

    import vlmeval.registry
    from vlmeval.registry import ENTRY_POINT_GROUP, load_registry

    package = tmp_path / "site" / "my_task_pack"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text(TOY_TASK.format(name="toy_first", stated=""))
    (package / "added_later.py").write_text(TOY_TASK.format(name="toy_added_later", stated=""))
    (package / "_helpers.py").write_text("raise RuntimeError('a private module is not a task module')\n")
    (package / "broken.py").write_text("import does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    point = EntryPoint(name="pack", value="my_task_pack", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(vlmeval.registry, "entry_points", lambda group: [point])
    registry = load_registry()
    assert {"toy_first", "toy_added_later"} <= set(registry.names())
    assert registry.problems == ["task module my_task_pack.broken failed to import: "
                                 "ModuleNotFoundError: No module named 'does_not_exist'"]
