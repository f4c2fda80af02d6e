"""benchmarks/gpu.py --dry-run: the GPU check's code runs on a CPU and writes every figure (issue 28).

The script runs only when a GPU is lent, rarely; this keeps it from rotting in between. It runs
where `openai` and `openpyxl` cannot be imported, as on the GPU machines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCKER = Path(__file__).parents[1] / "fixtures" / "gpu_machine"
RUN_FIGURES = ("samples", "wall_s", "samples_per_s", "generated_tokens", "tokens_per_s", "in_generate_share",
               "loop_s", "gpu_busy", "gpu_busy_loop", "peak_gib")


@pytest.mark.slow
def test_dry_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BLOCKER), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--dry-run", "--json", str(out),
                           "--budget-s", "900", "--workdir", str(tmp_path / "work")],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert not figures["errors"], figures["errors"]
    assert figures["complete"] and figures["dry_run"] and not figures["skipped"]
    assert figures["device"]["torch"] and figures["machine"] and figures["gpu_busy_source"].startswith("none")

    model = figures["models"]["tiny"]
    assert model["parameters"] > 0 and model["largest_batch_that_fits"] == 64 and model["probe"] == {"64": "fits"}
    assert set(model["sqa"]) == {"1", "8", "16", "32", "64"}
    for size in [*model["sqa"].values(), *model["vqa"].values()]:
        for path in ("vlmeval", "bare"):
            assert set(RUN_FIGURES) <= set(size[path]), path
            assert size[path]["samples_per_s"] > 0 and size[path]["generated_tokens"] > 0
        assert size["vlmeval_over_bare"] == pytest.approx(size["vlmeval"]["wall_s"] / size["bare"]["wall_s"], abs=1e-3)
        assert size["vlmeval"]["answered"] == size["vlmeval"]["samples"] and size["vlmeval"]["errors"] == 0
    # every vlmeval run answered its questions; a tiny random model's generated tokens are counted per sample
    assert model["sqa"]["8"]["vlmeval"]["generated_tokens"] >= model["sqa"]["8"]["vlmeval"]["samples"]
    assert model["sqa"]["8"]["vlmeval"]["batching"] == {"batch_size": 8}

    auto = model["auto"]
    assert auto["chosen"] == 64 and auto["vlmeval"]["batching"]["batch_size"] == "auto"
    assert auto["best_fixed"] == model["targets"]["best_batch"] and auto["auto_over_best_fixed_rate"] > 0
    assert set(model["vqa"]) == {str(model["targets"]["best_batch"])}
    assert model["vqa"][str(model["targets"]["best_batch"])]["vlmeval"]["generated_tokens"] > 0
    assert {"best_samples_per_s", "worst_vlmeval_over_bare", "gpu_busy_loop_at_best"} <= set(model["targets"])

    for dtype in ("bfloat16", "float16"):
        inv = figures["invariance"][dtype]
        assert inv["samples"] == 32 and 0 <= inv["differ"] <= 32 and inv["distinct_answers"] >= 1
    assert "== summary (dry run" in done.stdout and "invariance float16:" in done.stdout


def _probes() -> ModuleType:
    """benchmarks/_gpu_probes.py (benchmarks/ is not a package)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import _gpu_probes
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return _gpu_probes


def test_busy_share_is_the_mean_of_the_samples_inside_the_window() -> None:
    mean = _probes().BusySampler.mean
    samples = [(1.0, 0.2), (2.0, 1.0), (3.0, 0.6), (4.0, 0.0)]
    assert mean(samples) == pytest.approx(0.45)
    assert mean(samples, 1.5, 3.0) == pytest.approx(0.8)  # the loop's window: 2.0 and 3.0 only
    assert mean(samples, 5.0, 6.0) is None and mean([]) is None  # no sample: no figure, never 0


def test_without_a_gpu_busy_figures_are_none_and_the_source_says_why() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    sampler = _probes().BusySampler()
    assert sampler.source == "none (no CUDA device)"
    sampler.start()
    assert sampler.stop() == []
