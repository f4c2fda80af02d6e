"""Failures are loud: a full disk at any write, endpoints that hang or refuse, signals to a sharded run."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse
from tests.fakes.scripted import ScriptedBackend
from tests.faults import answer_lines, full_disk_fdopen, full_disk_open, shard_worker, start_cli, wait_for
from tests.helpers import read_jsonl, vlmeval
from vlmeval.cli import build_parser, main
from vlmeval.engine.store import AnswerStore


def _run(out: Path, *extra: str) -> int:
    return main(["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--output", str(out),
                 "--no-progress", "--limit", "20", "--batch-size", "4", *extra])


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_disk_filling_up_mid_line_keeps_every_flushed_answer(tmp_path: Path, scripted: ScriptedBackend,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("vlmeval.engine.store.open", full_disk_open(500), raising=False)
    assert _run(tmp_path) == 2
    error = _one_line(capsys)
    assert "No space left on device" in error and "re-run the same command" in error
    run_dir = tmp_path / "scripted" / "sqa"
    file = next((run_dir / "answers").glob("*.jsonl"))
    complete_lines = file.read_bytes().count(b"\n")
    assert 4 <= complete_lines < 20
    assert len(AnswerStore(run_dir).read().answers) == complete_lines  # every whole line is kept
    monkeypatch.undo()
    monkeypatch.setattr("vlmeval.engine.evaluate.make_backend", lambda model, options: scripted)
    monkeypatch.setattr("vlmeval.backends.hub_models.hub_snapshot", lambda model: model)  # as conftest does
    scripted.calls.clear()
    assert _run(tmp_path) == 0
    assert sum(map(len, scripted.calls)) == 20 - complete_lines


@pytest.mark.parametrize("file", ["predictions.jsonl", "report.json", "report.md", "chart-", "run.json"])
def test_a_full_disk_at_any_result_file_is_one_line_and_loses_no_answer(
    tmp_path: Path, scripted: ScriptedBackend, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], file: str,
) -> None:
    monkeypatch.setattr(os, "fdopen", full_disk_fdopen(file))
    assert _run(tmp_path, "--charts") == 2  # charts are opt-in: ask for them so every file is written
    error = _one_line(capsys)
    assert "No space left on device" in error and file in error
    answers = AnswerStore(tmp_path / "scripted" / "sqa").read().answers
    if file == "run.json":  # recorded before any work: nothing was answered, nothing is lost
        assert answers == {} and scripted.calls == []
    else:
        assert len(answers) == 20


@pytest.mark.parametrize("file", ["predictions.jsonl", "report.json", "report.md", "chart-"])
def test_a_full_disk_while_merging_is_one_line(tmp_path: Path, scripted: ScriptedBackend,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str], file: str) -> None:
    assert _run(tmp_path) == 0
    capsys.readouterr()
    monkeypatch.setattr(os, "fdopen", full_disk_fdopen(file))
    assert main(["merge", str(tmp_path / "scripted" / "sqa"), "--charts"]) == 2
    assert "No space left on device" in _one_line(capsys)


@pytest.mark.slow
def test_request_timeouts_are_flags_for_the_model_and_the_judge(tmp_path: Path) -> None:
    with FakeOpenAIServer(FakeResponse.hang(3.0)) as server:
        result = vlmeval("run", "--task", "sqa", "--model", "openai:m", "--base-url", server.base_url,
                         "--data", "demo", "--limit", "2", "--output", str(tmp_path), "--no-progress",
                         "--request-timeout", "0.2", "--max-retries", "0")
    assert result.returncode == 3, result.stderr
    errors = [r["error"] for r in read_jsonl(tmp_path / "openai-m" / "sqa" / "predictions.jsonl")]
    assert len(errors) == 2 and all("timed out after 0.2s" in e for e in errors)
    from vlmeval.commands import _score_context

    args = build_parser().parse_args(["merge", "x", "--judge", "j", "--judge-request-timeout", "0.5"])
    context = _score_context(args, None)
    assert context.judge is not None and context.judge.client.timeout == 0.5
    for flag in ("--request-timeout", "--judge-request-timeout"):
        for bad in ("0", "-1", "nan"):
            refused = main(["run", "--task", "sqa", "--model", "demo", "--data", "demo", flag, bad])
            assert refused == 2


@pytest.mark.slow
def test_a_refused_connection_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Retried with backoff like a 5xx, 12 samples would take minutes (6 retries, up to 63 s each).
    result = vlmeval("run", "--task", "sqa", "--model", "openai:m", "--base-url", f"http://127.0.0.1:{port}/v1",
                     "--data", "demo", "--limit", "12", "--batch-size", "4", "--output", str(tmp_path),
                     "--no-progress", "--max-retries", "6", timeout=60)
    assert result.returncode == 3, result.stderr
    errors = [r["error"] for r in read_jsonl(tmp_path / "openai-m" / "sqa" / "predictions.jsonl")]
    assert len(errors) == 12 and all("connection failed" in e for e in errors)
    assert all("[1 attempt]" in e or "[2 attempts]" in e for e in errors)
    assert sum("[1 attempt]" in e for e in errors) >= 8  # after the first batch: no retries at all


def _slow(body: dict[str, Any], headers: Any) -> FakeResponse:
    return FakeResponse.text("A", delay_s=0.05)


@pytest.mark.slow
@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_parent_of_shards_stops_every_worker(tmp_path: Path, sent: int, code: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "SLURM_PROCID", "VLMEVAL_SHARD"}}
    with FakeOpenAIServer(reply=_slow) as server:
        args = ["run", "--task", "sqa", "--model", "openai:m", "--base-url", server.base_url, "--data", "demo",
                "--output", str(tmp_path), "--batch-size", "2", "--concurrency", "1", "--no-progress",
                "--shards", "2"]
        parent = start_cli(*args, env=env)
        run_dir = tmp_path / "openai-m" / "sqa"
        workers = [shard_worker(parent, shard) for shard in (0, 1)]
        wait_for(lambda: answer_lines(run_dir) >= 4, what="answers from the workers")
        os.kill(parent.pid, sent)
        parent.wait(timeout=60)  # not communicate(): a worker left running would hold the pipes open
        left = [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
        for worker in left:
            worker.kill()
        _, stderr = parent.communicate(timeout=60)
        assert parent.returncode == code, stderr
        assert left == [], "workers left running after the parent stopped"
        assert "answers so far are kept" in stderr
        resumed = vlmeval(*args, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "report.json").read_text())["counts"]["answered"] == 60


def test_a_full_disk_under_the_judge_cache_costs_the_cache_entry_not_the_reply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from vlmeval.judge import _ReplyCache

    cache = _ReplyCache(tmp_path / "judge-cache.sqlite")
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count={pages}")  # sqlite's own "database or disk is full"
    cache.put("k1", "judge", "x" * 100_000)
    cache.put("k2", "judge", "y" * 100_000)
    assert "judge cache" in caplog.text and "full" in caplog.text
    assert caplog.text.count("not written") == 1  # said once
    cache.close()
