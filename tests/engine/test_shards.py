"""Sharded runs: equal to one process, resumable after SIGKILL, launcher-aware, never hanging."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.faults import answer_lines, kill_shard_worker, start_cli, wait_for
from tests.helpers import read_jsonl, vlmeval
from vlmeval.engine.shards import Shard, detect_placement


def _slow_answer(body: dict[str, Any], headers: Any) -> str:
    time.sleep(0.03)
    return "A"


@pytest.fixture()
def slow_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=_slow_answer) as server:
        yield server


def _api_run(server: FakeOpenAIServer, out: Path, *extra: str) -> list[str]:
    return ["run", "--task", "sqa", "--model", "openai:fake-model", "--base-url", server.base_url,
            "--data", "demo", "--output", str(out), "--run-name", "api", "--batch-size", "2",
            "--concurrency", "1", "--no-progress", *extra]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in {"RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "VLMEVAL_SHARD"}}


def _ids(run_dir: Path) -> Counter[str]:
    return Counter(r["id"] for r in read_jsonl(run_dir / "predictions.jsonl"))


@pytest.mark.slow
def test_two_shards_equal_one_process(tmp_path: Path) -> None:
    common = ["run", "--task", "sqa", "--model", "demo", "--data", "demo", "--limit", "24",
              "--max-new-tokens", "4", "--no-progress"]
    one = vlmeval(*common, "--output", str(tmp_path / "one"), "--shards", "1")
    two = vlmeval(*common, "--output", str(tmp_path / "two"), "--shards", "2", "--batch-size", "5")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, b = tmp_path / "one" / "demo" / "sqa", tmp_path / "two" / "demo" / "sqa"
    assert read_jsonl(a / "predictions.jsonl") == read_jsonl(b / "predictions.jsonl")
    report_a, report_b = (json.loads((d / "report.json").read_text()) for d in (a, b))
    assert report_a["metrics"] == report_b["metrics"] and report_a["counts"] == report_b["counts"]
    assert report_b["spec"]["sharding"] == {"shards": 2, "launcher": "spawn", "gpus_per_shard": 1}
    assert len(list((b / "answers").glob("shard-*-of-00002.jsonl"))) == 2


@pytest.mark.slow
def test_killed_shard_fails_the_run_and_the_same_command_resumes(
    tmp_path: Path, slow_server: FakeOpenAIServer
) -> None:
    out = tmp_path / "out"
    run_dir = out / "api" / "sqa"
    args = _api_run(slow_server, out, "--shards", "2")
    parent = start_cli(*args, env=_env())
    wait_for(lambda: answer_lines(run_dir, "shard-00001-*") >= 6, what="shard 1 answering")
    kill_shard_worker(parent, 1)
    _, stderr = parent.communicate(timeout=120)  # the surviving shard finishes; nothing hangs
    assert parent.returncode == 4
    assert "shard 1 of 2 failed (killed by signal 9)" in stderr
    assert "samples have no answer" in stderr and not (run_dir / "report.json").exists()

    resumed = vlmeval(*args, env=_env())
    assert resumed.returncode == 0, resumed.stderr
    ids = _ids(run_dir)
    assert len(ids) == 60 and set(ids.values()) == {1}
    report = json.loads((run_dir / "report.json").read_text())
    assert report["counts"]["answered"] == 60 and report["complete"]


@pytest.mark.slow
def test_resume_with_another_shard_count(tmp_path: Path, slow_server: FakeOpenAIServer) -> None:
    out = tmp_path / "out"
    run_dir = out / "api" / "sqa"
    parent = start_cli(*_api_run(slow_server, out, "--shards", "2"), env=_env())
    wait_for(lambda: answer_lines(run_dir) >= 10, what="some answers")
    kill_shard_worker(parent, 0)
    kill_shard_worker(parent, 1)
    parent.communicate(timeout=60)
    answered_before = answer_lines(run_dir)
    requests_before = len(slow_server.requests)
    resumed = vlmeval(*_api_run(slow_server, out, "--shards", "3"), env=_env())
    assert resumed.returncode == 0, resumed.stderr
    ids = _ids(run_dir)
    assert len(ids) == 60 and set(ids.values()) == {1}
    # Only what was missing was asked again (a batch in flight at the kill may be asked twice).
    assert len(slow_server.requests) - requests_before <= 60 - answered_before + 4
    assert len(list((run_dir / "answers").glob("shard-*-of-00003.jsonl"))) == 3


@pytest.mark.slow
def test_launcher_variables_select_the_shard_and_the_last_shard_merges(
    tmp_path: Path, slow_server: FakeOpenAIServer
) -> None:
    out = tmp_path / "out"
    run_dir = out / "api" / "sqa"
    first = vlmeval(*_api_run(slow_server, out), env={**_env(), "RANK": "0", "WORLD_SIZE": "2",
                                                       "LOCAL_RANK": "0"})
    assert first.returncode == 0, first.stderr
    assert "shard 0 of 2 done" in first.stdout and not (run_dir / "report.json").exists()
    owned = {i for i in map(str, range(60)) if Shard(0, 2).owns(i)}
    assert set(_answers(run_dir)) == owned
    second = vlmeval(*_api_run(slow_server, out), env={**_env(), "SLURM_PROCID": "1", "SLURM_NTASKS": "2"})
    assert second.returncode == 0, second.stderr
    assert len(_ids(run_dir)) == 60
    assert json.loads((run_dir / "run.json").read_text())["sharding"]["launcher"] == "slurm"


def _answers(run_dir: Path) -> list[str]:
    return [r["id"] for f in (run_dir / "answers").glob("*.jsonl") for r in read_jsonl(f)]


@pytest.mark.slow
def test_merge_by_hand(tmp_path: Path, slow_server: FakeOpenAIServer) -> None:
    out = tmp_path / "out"
    run_dir = out / "api" / "sqa"
    vlmeval(*_api_run(slow_server, out), env={**_env(), "RANK": "1", "WORLD_SIZE": "2"})
    merged = vlmeval("merge", str(run_dir), env=_env())
    assert merged.returncode == 3  # scored, but shard 0's samples are missing
    report = json.loads((run_dir / "report.json").read_text())
    assert report["counts"]["missing"] == sum(Shard(0, 2).owns(str(i)) for i in range(60))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (Shard(0, 1), "single", 0)),
        ({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, (Shard(3, 4), "torchrun", 1)),
        ({"RANK": "0", "WORLD_SIZE": "1"}, (Shard(0, 1), "single", 0)),
        ({"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1"}, (Shard(5, 8), "slurm", 1)),
        ({"VLMEVAL_SHARD": "1/2", "RANK": "0", "WORLD_SIZE": "4"}, (Shard(1, 2), "spawned", 0)),
    ],
)
def test_placement_from_environment(env: dict[str, str], expected: tuple[Shard, str, int]) -> None:
    placement = detect_placement(env)
    assert (placement.shard, placement.launcher, placement.local_rank) == expected


def test_shards_split_ids_deterministically() -> None:
    ids = [str(i) for i in range(1000)]
    parts = [{i for i in ids if Shard(k, 3).owns(i)} for k in range(3)]
    assert set().union(*parts) == set(ids) and sum(map(len, parts)) == 1000
    assert min(map(len, parts)) > 250


@pytest.mark.slow
def test_after_kill_9_of_one_shard_no_message_promises_a_report(tmp_path: Path) -> None:
    """The survivor of a killed run answers on, but its parent will exit 4 without a report: a re-run
    meanwhile must not be told to "let it finish (it writes the report)"."""
    import threading

    slow = threading.Event()

    def reply(body: dict[str, Any], headers: Any) -> str:
        time.sleep(1.0 if slow.is_set() else 0.03)  # ~26 s left for the survivor: the re-run reaches it
        return "A"

    out = tmp_path / "out"
    run_dir = out / "api" / "sqa"
    with FakeOpenAIServer(reply=reply) as server:
        args = _api_run(server, out, "--shards", "2")
        parent = start_cli(*args, env=_env())
        wait_for(lambda: answer_lines(run_dir, "shard-00001-*") >= 4, what="shard 1 answering")
        slow.set()  # shard 0 of the first run is still answering when the command is re-run
        kill_shard_worker(parent, 1)
        rerun = vlmeval(*args, env=_env())
        slow.clear()
        _, first_err = parent.communicate(timeout=120)
    assert parent.returncode == 4 and rerun.returncode == 4, rerun.stderr
    everything = rerun.stderr + rerun.stdout + first_err
    assert "it writes the report" not in everything and "let it finish" not in everything
    # The killed shard's claim (its process a zombie until its parent reaps it) was taken over; the
    # survivor's was not, and the message says what to do instead of promising a report.
    assert "is answering shard 1 of 2" not in rerun.stderr, rerun.stderr
    assert "is answering shard 0 of 2" in rerun.stderr, rerun.stderr
    assert "once it has ended, re-run this command" in rerun.stderr, rerun.stderr
