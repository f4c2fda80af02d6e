"""`vlmeval.evaluate` under torch.distributed: two CPU ranks on gloo, started by torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vlmeval

SCRIPT = Path(__file__).with_name("distributed_eval.py")


def _torchrun(output: Path, mode: str) -> list[dict]:  # type: ignore[type-arg]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SCRIPT.parents[1])}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(SCRIPT), str(output), mode], timeout=180, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]  # what a rank printed when it crashed
    return [json.loads((output / f"rank-{rank}.json").read_text()) for rank in (0, 1)]


@pytest.mark.slow
def test_two_ranks_answer_their_slices_and_all_get_the_metrics(tmp_path: Path) -> None:
    ranks = _torchrun(tmp_path, "ok")
    assert ranks[0] == ranks[1] and "error" not in ranks[0]
    assert ranks[0]["sharding"]["shards"] == 2 and ranks[0]["sharding"]["launcher"] == "torch.distributed"
    single = vlmeval.evaluate("demo", "sqa", data="demo", output=tmp_path / "single", run_name="one",
                              batch_size=1, quiet=True)
    assert ranks[0]["metrics"] == single.metrics
    lines = (tmp_path / "runs" / "dist" / "sqa" / "predictions.jsonl").read_text().splitlines()
    single_lines = (tmp_path / "single" / "one" / "sqa" / "predictions.jsonl").read_text().splitlines()
    assert sorted(lines) == sorted(single_lines) and len(lines) == 60


@pytest.mark.slow
def test_an_error_on_one_rank_reaches_every_rank(tmp_path: Path) -> None:
    ranks = _torchrun(tmp_path, "fail-rank-1")
    assert "no-such-data.parquet" in ranks[1]["error"]
    assert ranks[0]["error"].startswith("RankFailed: rank 1 of 2 failed:")
    assert "no-such-data.parquet" in ranks[0]["error"]


@pytest.mark.slow
def test_an_error_of_rank_0_alone_reaches_the_other_rank(tmp_path: Path) -> None:
    ranks = _torchrun(tmp_path, "fail-rank-0")
    assert "runs" in ranks[0]["error"] and not ranks[0]["error"].startswith("RankFailed")
    assert ranks[1]["error"].startswith("RankFailed: rank 0 of 2 failed:")
