"""The core install (no `[hf]`, `[hub]`, `[plots]` extras) scores, compares, exports and lists tasks.

Each command runs in a fresh interpreter where torch, transformers, accelerate, datasets and
matplotlib cannot be imported (tests/fixtures/no_heavy/sitecustomize.py), as after
`pip install vlmeval` without extras; a second check shows that, with everything installed, these
commands do not import the heavy packages at all (start-up time, issue 15).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import vlmeval, write_jsonl

pytestmark = pytest.mark.slow  # every test starts fresh interpreters

BLOCKER = Path(__file__).parent / "fixtures" / "no_heavy"
HEAVY = ("torch", "transformers", "accelerate", "datasets", "huggingface_hub", "matplotlib")


def _light_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VLMEVAL_TASKS_PATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(BLOCKER), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _demo_predictions(path: Path) -> Path:
    from vlmeval.engine.samples import load_samples
    from vlmeval.registry import load_registry

    samples = load_samples(load_registry().get("sqa"), "demo", None, None).samples
    return write_jsonl(path, [{"id": s.id, "prediction": "A"} for s in samples])


def test_blocker_makes_heavy_packages_unimportable() -> None:
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True,
                           env=_light_env(), check=False)
    assert probe.returncode == 1 and "blocked: light install" in probe.stderr


def test_score_compare_leaderboard_tasks_without_heavy_packages(tmp_path: Path) -> None:
    env = _light_env()
    assert vlmeval("--help", env=env).returncode == 0
    listed = vlmeval("tasks", env=env)
    assert listed.returncode == 0 and "vqav2_val" in listed.stdout, listed.stderr

    predictions = _demo_predictions(tmp_path / "preds.jsonl")
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    for folder in (run_a, run_b):
        scored = vlmeval("score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions),
                         "--output", str(folder), "--charts", env=env)
        assert scored.returncode == 0, scored.stderr
        # Charts were asked for: skipped with a note naming the extra, never a crash.
        assert "charts skipped: matplotlib is not installed (pip install 'vlmeval[plots]')" in scored.stderr
        assert not list(folder.glob("chart-*")) and json.loads((folder / "report.json").read_text())["scored"]

    chart = tmp_path / "diff.png"
    compared = vlmeval("compare", str(run_a), str(run_b), "--fail-on-regression", "5", "--chart", str(chart),
                       env=env)
    assert compared.returncode == 0 and "**PASS**" in compared.stdout, compared.stderr
    assert "matplotlib is not installed" in compared.stderr and not chart.exists()

    page = tmp_path / "board.html"
    board = vlmeval("leaderboard", str(run_a), "--format", "html", "-o", str(page), env=env)
    assert board.returncode == 0, board.stderr
    assert "charts not drawn: matplotlib is not installed" in page.read_text(encoding="utf-8")
    assert vlmeval("leaderboard", str(run_a), "--format", "csv", env=env).stdout.count("\n") == 2


def test_jobs_needing_an_extra_name_it(tmp_path: Path) -> None:
    env = _light_env()
    local = vlmeval("run", "--task", "sqa", "--model", "demo", "--data", "demo", "--output", str(tmp_path),
                    env=env)
    assert local.returncode == 2
    assert "needs torch, transformers, accelerate, which are not installed: pip install 'vlmeval[hf]'" in local.stderr
    hub = vlmeval("score", "--task", "sqa", "--predictions", str(_demo_predictions(tmp_path / "p.jsonl")),
                  "--output", str(tmp_path / "s"), env=env)
    assert hub.returncode == 2 and "pip install 'vlmeval[hub]'" in hub.stderr, hub.stderr


def test_light_commands_do_not_import_heavy_packages(tmp_path: Path) -> None:
    """With every package installed, `--help`, `tasks`, `score`, `compare`, `leaderboard` leave them unloaded."""
    predictions = _demo_predictions(tmp_path / "preds.jsonl")
    run = tmp_path / "run"
    commands = [["--help"], ["tasks"],
                ["score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions), "--output", str(run)],
                ["compare", str(run), str(run)], ["leaderboard", str(run), "--format", "json"]]
    script = ("import sys\nfrom vlmeval.cli import main\n"
              "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as exit:\n    code = exit.code\n"
              f"print('LOADED', [m for m in {HEAVY!r} if m in sys.modules], code, file=sys.stderr)\n")
    for command in commands:
        done = subprocess.run([sys.executable, "-c", script, *command], capture_output=True, text=True,
                              check=False, timeout=300)
        assert "LOADED [] 0" in done.stderr, (command, done.stderr[-2000:])
