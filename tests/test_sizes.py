"""Sizes stay bounded: model answers and judge replies over their limits are cut, stored cut and
counted as failure `oversized`, never stored whole."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, last_user_text
from tests.helpers import mmvet_row, read_jsonl, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.limits import MAX_ANSWER_CHARS, MAX_JUDGE_REPLY_CHARS

HUGE = "x" * (MAX_ANSWER_CHARS * 3)


def test_runaway_model_answer_is_cut_and_counted(tmp_path: Path) -> None:
    replay = write_jsonl(tmp_path / "answers.jsonl", [{"id": "0", "prediction": HUGE}, {"id": "1", "prediction": "A"}])
    out = tmp_path / "out"
    code = main(["run", "--task", "sqa", "--model", f"replay:{replay}", "--data", "demo", "--limit", "2",
                 "--output", str(out), "--run-name", "r", "--no-progress"])
    assert code == 0  # one valid answer: a number, the cut one counted
    folder = out / "r" / "sqa"
    stored = [json.loads(line) for f in (folder / "answers").glob("*.jsonl") for line in f.read_text().splitlines()]
    first = next(line for line in stored if line["id"] == "0")
    assert len(first["prediction"]) == MAX_ANSWER_CHARS and first["full_length"] == len(HUGE)
    records = {r["id"]: r for r in read_jsonl(folder / "predictions.jsonl")}
    assert records["0"]["failure"] == "oversized" and len(records["0"]["prediction"]) == MAX_ANSWER_CHARS
    assert records["0"]["scores"]["correct"] == 0.0
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["failures"].get("oversized") == 1
    assert (folder / "predictions.jsonl").stat().st_size < 2 * MAX_ANSWER_CHARS


def test_predictions_file_with_a_huge_answer_is_cut_when_scored(tmp_path: Path) -> None:
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "0", "prediction": HUGE}, {"id": "1", "prediction": "A"}])
    out = tmp_path / "scored"
    main(["score", "--task", "sqa", "--data", "demo", "--limit", "2", "--predictions", str(preds),
          "--output", str(out)])
    record = read_jsonl(out / "predictions.jsonl")[0]
    assert record["failure"] == "oversized" and len(record["prediction"]) == MAX_ANSWER_CHARS


def test_huge_judge_reply_is_cut_in_the_cache_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    rows = [mmvet_row("v1_0", "How many?", "5", "rec"), mmvet_row("v1_1", "Which?", "cat", "rec")]
    data = write_parquet(tmp_path / "MMVet" / "test-00000-of-00001.parquet", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "v1_0", "prediction": "five"},
                                                {"id": "v1_1", "prediction": "a cat"}])
    huge_reply = "1.0 " * (MAX_JUDGE_REPLY_CHARS * 2)  # a 3-token request answered with 130k characters

    def reply(body: dict, headers: object) -> str:
        return huge_reply if "| five |" in last_user_text(body) else "1.0"

    def score(out: Path, server: FakeOpenAIServer) -> dict:
        code = main(["score", "--task", "mmvet", "--predictions", str(preds), "--data", str(data), "--output",
                     str(out), "--judge", "j", "--judge-base-url", server.base_url,
                     "--judge-api-key-env", "NO_KEY_FOR_TESTS"])
        assert code == 0
        return json.loads((out / "report.json").read_text(encoding="utf-8"))

    with FakeOpenAIServer(reply) as server:
        report = score(tmp_path / "a", server)
        again = score(tmp_path / "b", server)
    assert report["counts"]["failures"] == {"oversized": 1}
    assert report["metrics"]["total"] == pytest.approx(50.0)  # the oversized judgement scores 0, as a failed one
    assert again["judge"]["stats"]["requests_sent"] == 0 and again["counts"]["failures"] == {"oversized": 1}
    with sqlite3.connect(tmp_path / "cache" / "judge-cache.sqlite") as db:
        longest = db.execute("SELECT max(length(CAST(text AS BLOB))) FROM replies").fetchone()[0]
    assert MAX_JUDGE_REPLY_CHARS < longest < MAX_JUDGE_REPLY_CHARS + 40  # cut, with its mark
    record = read_jsonl(tmp_path / "a" / "predictions.jsonl")[0]
    assert record["failure"] == "oversized" and "over the limit" in record["answer"][0]["error"]
    assert (tmp_path / "a" / "predictions.jsonl").stat().st_size < MAX_JUDGE_REPLY_CHARS
