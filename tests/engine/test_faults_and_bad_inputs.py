"""Faults injected and bad inputs tried: every answer kept, nothing counted twice, one-line errors."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, last_user_text
from tests.fakes.scripted import ScriptedBackend
from tests.faults import answer_lines, kill_tree, start_cli, tear_last_line, wait_for
from tests.helpers import png_bytes, read_jsonl, sqa_row, vlmeval, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.engine.predictions import read_predictions
from vlmeval.engine.store import AnswerStore
from vlmeval.errors import PredictionsError


def _run(out: Path, *extra: str) -> int:
    return main(["run", "--task", "sqa", "--model", "scripted", "--data", "demo", "--output", str(out),
                 "--no-progress", *extra])


def test_out_of_memory_batches_are_halved_down_to_one(tmp_path: Path, scripted: ScriptedBackend) -> None:
    scripted.max_batch = 3
    scripted.broken = {"7"}
    assert _run(tmp_path, "--batch-size", "16", "--limit", "20") == 3  # incomplete: sample 7 failed
    sizes = sorted({len(c) for c in scripted.calls})
    assert sizes[-1] == 16 and 1 in sizes and 8 in sizes and 4 in sizes
    records = {r["id"]: r for r in read_jsonl(tmp_path / "scripted" / "sqa" / "predictions.jsonl")}
    assert "model crashed on ['7']" in records["7"]["error"]
    assert all(r["prediction"] == "A" for i, r in records.items() if i != "7")
    report = json.loads((tmp_path / "scripted" / "sqa" / "report.json").read_text())
    assert report["counts"]["errors"] == 1 and report["counts"]["answered"] == 19
    assert not report["complete"]


def test_failed_samples_alone_are_retried_on_the_next_run(tmp_path: Path, scripted: ScriptedBackend) -> None:
    scripted.soft_broken = {"3", "4"}
    assert _run(tmp_path, "--limit", "10") == 3
    scripted.soft_broken = set()
    scripted.calls.clear()
    assert _run(tmp_path, "--limit", "10") == 0
    assert sorted(i for call in scripted.calls for i in call) == ["3", "4"]
    records = read_jsonl(tmp_path / "scripted" / "sqa" / "predictions.jsonl")
    assert [r["id"] for r in records] == [str(i) for i in range(10)] and all(r["error"] is None for r in records)


def test_torn_last_line_is_detected_and_that_sample_redone(tmp_path: Path, scripted: ScriptedBackend,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    assert _run(tmp_path, "--limit", "12", "--batch-size", "4") == 0
    run_dir = tmp_path / "scripted" / "sqa"
    shard_file = next((run_dir / "answers").glob("*.jsonl"))
    last_id = json.loads(shard_file.read_text().splitlines()[-1])["id"]
    tear_last_line(shard_file)
    scripted.calls.clear()
    assert _run(tmp_path, "--limit", "12", "--batch-size", "4") == 0
    assert scripted.calls == [[last_id]]
    assert "unreadable answer lines skipped" in caplog.text
    state = AnswerStore(run_dir).read()
    assert len(state.answers) == 12 and len(state.torn_lines) == 1
    assert len(read_jsonl(run_dir / "predictions.jsonl")) == 12


def test_disk_full_is_a_clear_error_and_loses_nothing(tmp_path: Path, scripted: ScriptedBackend,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from vlmeval.engine.store import AnswerWriter

    real_write = AnswerWriter.write
    writes: list[int] = []

    def fill_up(self: AnswerWriter, answers: Any) -> None:
        writes.append(1)
        if len(writes) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, answers)

    monkeypatch.setattr(AnswerWriter, "write", fill_up)
    assert _run(tmp_path, "--limit", "20", "--batch-size", "4", "-q") == 2
    error = capsys.readouterr().err.strip()
    assert "No space left on device" in error and "re-run the same command" in error
    assert len(error.splitlines()) == 1
    assert len(AnswerStore(tmp_path / "scripted" / "sqa").read().answers) == 8
    monkeypatch.setattr(AnswerWriter, "write", real_write)
    assert _run(tmp_path, "--limit", "20", "--batch-size", "4") == 0


def test_unwritable_output_fails_before_any_work(tmp_path: Path, scripted: ScriptedBackend,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert _run(blocker / "out") == 2
    assert "is not writable" in capsys.readouterr().err and scripted.calls == []


def test_a_crash_while_writing_a_report_leaves_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vlmeval.io import WriteError, atomic_write_json

    target = tmp_path / "report.json"
    atomic_write_json(target, {"old": True})

    def crash(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(WriteError, match="I/O error"):
        atomic_write_json(target, {"new": True})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [3, 25, 51])
def test_kill_9_at_any_point_then_resume_answers_each_sample_once(tmp_path: Path, kill_after: int) -> None:
    def slow(body: dict[str, Any], headers: Any) -> FakeResponse:
        return FakeResponse.text("B", delay_s=0.02)

    with FakeOpenAIServer(reply=slow) as server:
        args = ["run", "--task", "sqa", "--model", "openai:fake-model", "--base-url", server.base_url,
                "--data", "demo", "--output", str(tmp_path), "--batch-size", "3", "--concurrency", "3",
                "--no-progress"]
        process = start_cli(*args)
        run_dir = tmp_path / "openai-fake-model" / "sqa"
        wait_for(lambda: answer_lines(run_dir) >= kill_after, what=f"{kill_after} answers")
        kill_tree(process)
        resumed = vlmeval(*args)
        assert resumed.returncode == 0, resumed.stderr
    ids = [r["id"] for r in read_jsonl(run_dir / "predictions.jsonl")]
    assert ids == [str(i) for i in range(60)]
    assert all(r["prediction"] == "B" for r in read_jsonl(run_dir / "predictions.jsonl"))


@pytest.mark.slow
def test_api_failures_are_recorded_then_retried_alone_and_the_key_never_leaks(tmp_path: Path) -> None:
    key = "sk-test-DO-NOT-LEAK-1234567890"
    healthy = {"on": False}

    def flaky(body: dict[str, Any], headers: Any) -> Any:
        text = last_user_text(body)
        if "Which side" in text and not healthy["on"]:
            return FakeResponse.error(500, f"backend exploded for key {key}")
        return "A"

    with FakeOpenAIServer(reply=flaky) as server:
        args = ["run", "--task", "sqa", "--model", "openai:fake-model", "--base-url", server.base_url,
                "--data", "demo", "--output", str(tmp_path), "--max-retries", "1", "--no-progress"]
        env = {**os.environ, "OPENAI_API_KEY": key}
        first = vlmeval(*args, env=env)
        assert first.returncode == 3
        failed = len(server.requests)
        assert all(r.headers.get("authorization") == f"Bearer {key}" for r in server.requests)
        healthy["on"] = True
        second = vlmeval(*args, env=env)
        assert second.returncode == 0, second.stderr
        retried = server.requests[failed:]
    run_dir = tmp_path / "openai-fake-model" / "sqa"
    assert {last_user_text(r.body).split("\n")[0] for r in retried} == {"Which side of the map is shaded?"}
    outputs = [first.stdout, first.stderr, second.stdout, second.stderr]
    outputs += [p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file()]
    assert outputs and not any(key in text for text in outputs)


@pytest.mark.parametrize(
    ("image", "why"),
    [(b"", "empty"), (png_bytes()[:40], "truncated"), (b"GIF89a garbage", "corrupt")],
)
def test_bad_images_are_recorded_per_sample(tmp_path: Path, scripted: ScriptedBackend, image: bytes, why: str) -> None:
    data = write_parquet(tmp_path / "d.parquet", [sqa_row(image=png_bytes()), sqa_row(image=image)])
    assert main(["run", "--task", "sqa", "--model", "x", "--data", str(data), "--output", str(tmp_path),
                 "--no-progress"]) == 3
    records = read_jsonl(tmp_path / "x" / "sqa" / "predictions.jsonl")
    assert records[0]["error"] is None
    assert f"{data} row 1: cannot decode image" in records[1]["error"]


def test_bad_datasets_get_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = sqa_row()
    row["choice"] = row.pop("choices")
    misspelled = write_parquet(tmp_path / "misspelled.parquet", [row])
    assert main(["score", "--task", "sqa", "--data", str(misspelled), "--predictions", "p.jsonl"]) == 2
    error = capsys.readouterr().err
    assert "missing column 'choices'; did you mean 'choice'?" in error and str(misspelled) in error

    import pyarrow as pa
    import pyarrow.parquet as pq

    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.Table.from_pylist([sqa_row()]).slice(0, 0), empty)
    assert main(["score", "--task", "sqa", "--data", str(empty), "--predictions", "p.jsonl"]) == 2
    assert f"{empty}: split 'test' has no rows" in capsys.readouterr().err


def test_duplicate_sample_ids_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         own_registrations: None) -> None:
    import shutil

    tasks_dir = tmp_path / "tasks"
    tasks_dir.mkdir()
    shutil.copy(Path(__file__).parents[1] / "fixtures" / "plugin_pkg" / "vlmeval_toy_tasks" / "__init__.py",
                tasks_dir / "toy.py")
    rows = [{"qid": 1, "question": "q", "answer": "yes", "kind": "k"}] * 2
    data = write_parquet(tmp_path / "dup.parquet", rows)
    code = main(["score", "--task", "toy_yesno", "--tasks-dir", str(tasks_dir), "--data", str(data),
                 "--predictions", "p.jsonl"])
    assert code == 2 and "duplicate sample ids (1): 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "0", "prediction": "A"}', "{not json"], ":2: not a JSON line"),
        (['{"id": "0", "prediction": "A"}', '{"id": "1", "prediction": "A", "prediction": "B"}'],
         ":2: the key 'prediction' appears twice"),
        (['{"id": "0", "id": "1", "prediction": "A"}'], ":1: the key 'id' appears twice"),
        (['{"id": "0", "prediction": "A"}', '{"id": "0", "prediction": "B"}'], ":2: sample 0 appears twice"),
        (['{"id": "0", "prediction": 3}'], ":1: prediction of sample 0 is a int, not a string"),
        (['{"prediction": "A"}'], ":1: a line needs the fields 'id' and 'prediction'"),
        (['{"id": "0", "prediction": "A"} {"id": "1", "prediction": "B"}'], ":1: not a JSON line (Extra data)"),
        (['\ufeff{"id": "0", "prediction": "A"}'], ":1: not a JSON line (Unexpected UTF-8 BOM"),
        (['{"id": "0", "prediction": "A"}', '[{"id": "1", "prediction": "B"}]'], ":2: a line needs the fields"),
        (['{"id": "0", "prediction": "A", "x": [1', '2]}'], ":1: not a JSON line"),
    ],
)
def test_bad_prediction_files_name_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PredictionsError, match=str(path).replace(".", r"\.") + message.replace("(", r"\(")
                       .replace(")", r"\)").replace("[", r"\[")):
        read_predictions(path)


def test_a_duplicated_key_is_named_in_a_file_that_is_not_utf8_either(tmp_path: Path) -> None:
    """Such a file is read line by line (the slower path): the duplicate on line 1 is found first."""
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"id": "0", "prediction": "A", "prediction": "B"}\n{"id": "1", "prediction": "\xe9"}\n')
    with pytest.raises(PredictionsError, match=r"p\.jsonl:1: the key 'prediction' appears twice"):
        read_predictions(path)


def test_prediction_lines_are_split_on_newlines_only(tmp_path: Path) -> None:
    """CRLF endings, blank lines of any ASCII whitespace, and U+2028 / U+0085 inside an answer:
    read as json.loads reads each line of the file."""
    path = tmp_path / "p.jsonl"
    lines = ['{"id": "0", "prediction": "line\u2028sep\u0085next"}', " \t\x0c", '{"id": 1, "prediction": null}',
             '  {"id": "2", "prediction": "\\ud83d"}  ']
    path.write_bytes("\r\n".join(lines).encode("utf-8") + b"\r\n\n")
    expected = {str(o["id"]): o["prediction"] for o in (json.loads(line) for line in lines if line.strip())}
    assert read_predictions(path) == expected == {"0": "line\u2028sep\u0085next", "1": None, "2": "\ud83d"}


def test_unknown_ids_in_a_prediction_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": "999", "prediction": "A"}])
    assert main(["score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions),
                 "--output", str(tmp_path / "o")]) == 2
    assert "1 ids are not samples of sqa" in capsys.readouterr().err


def test_no_code_executing_format_is_read() -> None:
    """Results are JSON, JSONL, parquet and TSV only: nothing in the package unpickles."""
    package = Path(__file__).resolve().parents[2] / "vlmeval"
    sources = "\n".join(p.read_text() for p in package.rglob("*.py"))
    import re

    for forbidden in (r"import pickle", r"pickle\.load", r"read_pickle", r"torch\.load\(", r"import marshal",
                      r"import shelve", r"(?<![\w.])eval\(", r"(?<![\w.])exec\("):
        assert not re.search(forbidden, sources), forbidden
