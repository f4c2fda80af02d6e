"""Messages that point the right way: `score` identity and its incomplete message, a scored run's
view finding its images, SIGTERM, errors on their own line, and an unreachable hub."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse
from tests.helpers import png_bytes, sqa_row, write_jsonl, write_parquet
from vlmeval import console
from vlmeval.cli import main
from vlmeval.errors import UsageError
from vlmeval.reporting.compare import load_run
from vlmeval.reporting.view import build_page_data


def sqa_data(tmp_path: Path) -> Path:
    # one flat file whose name names no split: the run read it as the task's test split
    rows = [sqa_row(answer=i % 2, image=png_bytes()) for i in range(4)]
    return write_parquet(tmp_path / "mine.parquet", rows)


def test_score_default_folder_is_the_predictions_files_and_another_file_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    data = sqa_data(tmp_path)
    first = write_jsonl(tmp_path / "model-a.jsonl", [{"id": str(i), "prediction": "A"} for i in range(4)])
    (tmp_path / "b").mkdir()
    other = write_jsonl(tmp_path / "b" / "model-a.jsonl", [{"id": str(i), "prediction": "B"} for i in range(4)])
    assert main(["score", "--task", "sqa", "--data", str(data), "--predictions", str(first)]) == 0
    folder = tmp_path / "results" / "scored" / "model-a" / "sqa"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["spec"]["run_name"] == "model-a"
    assert main(["score", "--task", "sqa", "--data", str(data), "--predictions", str(first)]) == 0  # same file
    capsys.readouterr()
    assert main(["score", "--task", "sqa", "--data", str(data), "--predictions", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"holds the scores of {first.resolve()}" in err and "another run" in err
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["spec"]["predictions_file"] == str(first)


def test_score_into_a_run_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run" / "sqa"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text("{}", encoding="utf-8")
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "0", "prediction": "A"}])
    assert main(["score", "--task", "sqa", "--data", "demo", "--predictions", str(preds), "--output", str(folder)]) == 2
    assert "holds a run of `vlmeval run`" in capsys.readouterr().err


def test_score_incomplete_names_the_ids_the_file_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": "A"} for i in range(10)
                                               if i not in (2, 3, 5, 6, 7, 8, 9)] + [{"id": "2", "prediction": None}])
    code = main(["score", "--task", "sqa", "--data", "demo", "--limit", "10", "--predictions", str(preds),
                 "--output", str(tmp_path / "out")])
    assert code == 3
    err = capsys.readouterr().err
    assert f"{preds} has no line for 6 samples (3, 5, 6, 7, 8 and 1 more)" in err
    assert f"{preds} has no prediction for 1 samples (2)" in err
    assert "re-run the same command" not in err


def test_view_of_a_scored_run_finds_its_images(tmp_path: Path) -> None:
    data = sqa_data(tmp_path)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": "A"} for i in range(4)])
    out = tmp_path / "scored" / "sqa"
    assert main(["score", "--task", "sqa", "--data", str(data), "--predictions", str(preds), "--output", str(out)]) == 0
    page = build_page_data([load_run(out / "report.json")], ["scored"])
    assert sorted(page["thumbs"]) == ["0", "1", "2", "3"], page["thumb_note"]
    assert "split" not in page["thumb_note"]


def test_an_error_starts_on_its_own_line_after_a_progress_bar(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def failing(args: object) -> int:
        sys.stderr.write("\r 40%|####      | 2/5 [00:01<00:01]")  # tqdm's line, not ended
        raise UsageError("the disk is full")

    monkeypatch.setattr("vlmeval.commands.cmd_tasks", failing)
    assert main(["tasks"]) == 2
    err = capsys.readouterr().err
    assert "vlmeval: error: the disk is full" in err.split("\n")  # grep '^vlmeval: error' finds it


def test_error_line_adds_no_blank_line_after_a_finished_line(capsys: pytest.CaptureFixture[str]) -> None:
    original = console.track_stderr()
    try:
        sys.stderr.write("done\n")
        console.error_line("vlmeval: error: x")
    finally:
        sys.stderr = original
    assert capsys.readouterr().err == "done\nvlmeval: error: x\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_hub_fails_at_once_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "0", "prediction": "yes"}])
    started = time.monotonic()
    assert main(["score", "--task", "pope", "--predictions", str(preds), "--output", str(tmp_path / "o")]) == 2
    assert time.monotonic() - started < 5
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vlmeval: error: reading lmms-lab/POPE split 'test'")
    assert "cannot be reached" in lines[0] and "HF_HUB_OFFLINE=1" in lines[0] and "--data PATH" in lines[0]


@pytest.mark.slow
def test_sigterm_to_a_single_process_run_says_what_sigint_says(tmp_path: Path) -> None:
    with FakeOpenAIServer(FakeResponse.hang(60.0)) as server:
        env = {**os.environ, "NO_KEY": "x"}
        process = subprocess.Popen(
            [sys.executable, "-m", "vlmeval", "run", "--task", "sqa", "--data", "demo", "--limit", "2",
             "--model", "openai:fake", "--base-url", server.base_url, "--api-key-env", "NO_KEY",
             "--output", str(tmp_path / "out"), "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.requests, "the run never asked the model"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert "vlmeval: stopped by SIGTERM; answers so far are kept, re-run the command to resume" in err.split("\n")
