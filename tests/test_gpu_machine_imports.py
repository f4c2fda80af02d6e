"""`vlmeval run` with a local model works where `openai` and `openpyxl` are missing (the GPU machines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import vlmeval

BLOCKER = Path(__file__).parent / "fixtures" / "gpu_machine"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VLMEVAL_TASKS_PATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(BLOCKER), *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.mark.slow
def test_cli_and_a_local_run_need_neither_openai_nor_openpyxl(tmp_path: Path) -> None:
    blocked = subprocess.run([sys.executable, "-c", "import openai"], capture_output=True, text=True,
                             env=_env(), check=False)
    assert blocked.returncode == 1 and "blocked: GPU machine" in blocked.stderr
    imported = subprocess.run([sys.executable, "-c", "import vlmeval.cli, vlmeval.commands, vlmeval.engine.evaluate"],
                              capture_output=True, text=True, env=_env(), check=False)
    assert imported.returncode == 0, imported.stderr
    run = vlmeval("run", "--task", "sqa", "--model", "demo", "--data", "demo", "--limit", "8",
                  "--output", str(tmp_path), "--no-progress", "--batch-size", "auto", env=_env())
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "demo" / "sqa" / "report.json").read_text())
    assert report["counts"]["answered"] == 8 and report["spec"]["batching"]["chosen"] == 64  # nothing ran out of memory
