"""Flag values, launcher variables, predictions files and state files are checked, with one-line errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.reporting.test_compare import baseline, sqa_records, write_run
from vlmeval.cli import main
from vlmeval.engine.shards import detect_placement
from vlmeval.errors import UsageError


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--num-beams", "0", "--num-beams must be at least 1"),
        ("--temperature", "-0.5", "--temperature must be 0"),
        ("--temperature", "nan", "--temperature must be 0"),
        ("--top-p", "0", "--top-p must be above 0 and at most 1"),
        ("--top-p", "1.5", "--top-p must be above 0 and at most 1"),
        ("--repetition-penalty", "0", "--repetition-penalty must be above 0"),
        ("--max-retries", "-1", "--max-retries must be 0 or more"),
        ("--device", "gpu", "--device must be auto, cpu, cuda, cuda:N or mps"),
        ("--device", "cuda:x", "--device must be"),
    ],
)
def test_generation_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str,
                          expected: str) -> None:
    err = _refused(capsys, "run", "--task", "sqa", "--model", "demo", "--data", "demo",
                   "--output", str(tmp_path), f"{flag}={value}")
    assert expected in err


@pytest.mark.parametrize("name", ["..", "../elsewhere", "/tmp/abs", "a/b", "."])
def test_run_name_is_one_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    out = tmp_path / "results"
    err = _refused(capsys, "run", "--task", "sqa", "--model", "demo", "--data", "demo", "--limit", "2",
                   "--output", str(out), "--run-name", name)
    assert "--run-name must be a single folder name" in err
    assert not (tmp_path / "elsewhere").exists() and not any(out.rglob("run.json"))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"RANK": "one", "WORLD_SIZE": "2"}, "RANK='one' is not an integer"),
        ({"RANK": "0", "WORLD_SIZE": "2x"}, "WORLD_SIZE='2x' is not an integer"),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": ""}, "SLURM_NTASKS='' is not an integer"),
        ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "?"}, "LOCAL_RANK='?' is not an integer"),
    ],
)
def test_launcher_variables_are_integers(env: dict[str, str], expected: str) -> None:
    with pytest.raises(UsageError, match=expected.replace("?", r"\?")):
        detect_placement(env)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"id": "0", "prediction": "caf\xe9"}\n', "not UTF-8 text"),
        (b'{"id": "0", "prediction": ' + b"[" * 200_000 + b"]" * 200_000 + b"}\n", "not a usable JSON line"),
        (b'{"id": ' + b"9" * 5000 + b', "prediction": "A"}\n', "not a usable JSON line"),
        (b'{"id": 1.5, "prediction": "A"}\n', "id is a float"),
    ],
)
def test_predictions_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: bytes,
                           expected: str) -> None:
    predictions = tmp_path / "p.jsonl"
    predictions.write_bytes(b'{"id": "1", "prediction": "A"}\n' + line)
    err = _refused(capsys, "score", "--task", "sqa", "--data", "demo", "--predictions", str(predictions),
                   "--output", str(tmp_path / "out"))
    assert f"{predictions}:2: " in err and expected in err


def test_a_damaged_run_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run" / "sqa"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text('{"task": "sqa", "model": "demo", "invoc')
    err = _refused(capsys, "merge", str(run_dir))
    assert f"{run_dir / 'run.json'}: this run file is not valid JSON" in err and "--run-name" in err
    (run_dir / "run.json").write_text(json.dumps({"task": "sqa", "model": "demo", "invocation": "x"}))
    assert "field 'invocation' is a string, expected object" in _refused(capsys, "merge", str(run_dir))
    (run_dir / "run.json").write_text(json.dumps({"model": "demo"}))
    assert "field 'task' is missing" in _refused(capsys, "merge", str(run_dir))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"metrics": {"accuracy": "80"}}, "metric 'accuracy' is '80', not a finite number"),
        ({"spec": {"task": ["sqa"], "model": "m"}}, "report field 'spec.task' is not a string"),
        ({"ci": {"accuracy": [1]}}, "ci of 'accuracy' is [1], not a [low, high] pair of numbers"),
        (None, "not a vlmeval report"),
    ],
)
def test_a_report_with_wrong_types_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            change: dict[str, object] | None, expected: str) -> None:
    a, b = tmp_path / "a" / "sqa", tmp_path / "b" / "sqa"
    write_run(a, "base", sqa_records(baseline(40)))
    report = write_run(b, "new", sqa_records(baseline(40)))
    (b / "report.json").write_text(json.dumps([report] if change is None else {**report, **change}))
    err = _refused(capsys, "compare", str(a), str(b))
    assert str(b / "report.json") in err and expected in err
    assert main(["leaderboard", str(tmp_path)]) == 0  # the leaderboard skips it, with a warning
    assert expected in capsys.readouterr().err


def test_a_damaged_judge_cache_is_named(tmp_path: Path) -> None:
    from vlmeval.errors import VlmevalError
    from vlmeval.judge import CACHE_FILE, Judge
    from vlmeval.openai_client import ChatClient

    (tmp_path / CACHE_FILE).write_bytes(b"this is not sqlite" * 100)
    client = ChatClient("http://127.0.0.1:9/v1", "judge", api_key_env="NO_SUCH_KEY_VAR")
    with pytest.raises(VlmevalError, match="judge cache") as caught:
        Judge(client, tmp_path)
    assert str(tmp_path / CACHE_FILE) in str(caught.value) and "\n" not in str(caught.value)
    assert (tmp_path / CACHE_FILE).read_bytes().startswith(b"this is not sqlite")  # never replaced

    other = tmp_path / "other"
    other.mkdir()
    with sqlite3.connect(other / CACHE_FILE) as db:  # a cache of another layout
        db.execute("CREATE TABLE replies (id INTEGER)")
    with pytest.raises(VlmevalError, match="judge cache cannot be used"):
        Judge(client, other)


def test_an_answer_reading_one_of_several_tasks_lacks_is_refused_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--tasks", "mmbench_en_dev,pope", "--model", "openai:x", "--base-url", "http://127.0.0.1:9",
                 "--data", "demo", "--answer-reading", "strict", "--output", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "--answer-reading 'strict' is not a reading of task pope" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing was answered for mmbench_en_dev first
