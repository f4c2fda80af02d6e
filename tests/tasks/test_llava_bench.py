"""LLaVA-Bench-in-the-Wild against a fake OpenAI-compatible judge: the official request, the official
score reading and summary, failures, judge runs and the cache."""

from __future__ import annotations

import hashlib
import json
import statistics
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from vlmeval_tasks.llava_bench import RULE, SYSTEM, parse_scores

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, last_user_text
from tests.helpers import llava_bench_row, read_jsonl, write_jsonl, write_parquet
from vlmeval.cli import main

# sha256 of the `llava_bench_conv` (= `_detail` = `_complex`) prompt of haotian-liu/LLaVA
# llava/eval/table/rule.json (872 characters), taken from the official file independently of the task.
OFFICIAL_RULE_SHA256 = "2ce22b562d6008864970ea863ac8a4d385ea6f2e64ab1313a23f825202a9529d"

# question_id, category, prediction; the fake judge replies "R M" for a prediction "sR_M".
ROWS = [(0, "conv", "s8_6"), (1, "conv", "s9_9"), (2, "detail", "s7_3.5"), (3, "complex", "s10_8"),
        (4, "complex", "comma"), (5, "detail", "boom"), (6, "conv", "vary")]


class FakeJudge:
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, body: dict, headers: Mapping[str, str]) -> str | FakeResponse:
        text = last_user_text(body)
        prediction = text.split("[Assistant 2]\n", 1)[1].split("\n\n[End of Assistant 2]", 1)[0]
        with self.lock:
            self.seen[text] += 1
            nth = self.seen[text]
        if prediction.startswith("s"):
            reference, model = prediction[1:].split("_")
            return f"{reference} {model}\nAssistant 1 was more detailed."
        if prediction == "comma":
            return "8, 7\nBoth fine."  # the official reading: "8  7" has three fields -> [-1, -1]
        if prediction == "vary":
            return ["8 4", "8 6", "8 8"][min(nth, 3) - 1]
        if prediction == "boom":
            return FakeResponse.error(400, "content filter")
        raise AssertionError(prediction)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def build(tmp_path: Path) -> tuple[Path, Path]:
    rows = [llava_bench_row(qid, category) for qid, category, _ in ROWS]
    data = write_parquet(tmp_path / "llava-bench-in-the-wild" / "train-00000-of-00001.parquet", rows)
    return data, write_jsonl(tmp_path / "preds.jsonl", [{"id": str(q), "prediction": p} for q, _, p in ROWS])


def score(data: Path, preds: Path, out: Path, server: FakeOpenAIServer, *extra: str) -> dict[str, Any]:
    code = main(["score", "--task", "llava_bench_wild", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out), "--judge", "judge-model", "--judge-base-url", server.base_url,
                 "--judge-api-key-env", "NO_KEY_FOR_TESTS", *extra])
    assert code == 3  # the refused request leaves the report incomplete (re-run asks again)
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def oracle(pairs: list[tuple[float, float]]) -> float:
    """summarize_gpt_review.py: column means rounded to 3 decimals, 100 x model / reference."""
    reference = round(sum(p[0] for p in pairs) / len(pairs), 3)
    model = round(sum(p[1] for p in pairs) / len(pairs), 3)
    return 100 * model / reference


def test_rule_is_the_official_one_byte_for_byte() -> None:
    assert hashlib.sha256(RULE.encode("utf-8")).hexdigest() == OFFICIAL_RULE_SHA256


@pytest.mark.parametrize(("review", "expected"), [
    ("8 7\nmore", (8.0, 7.0)), ("8,7", (8.0, 7.0)), ("8, 7", None), ("8  7", None), ("8\t7", None),
    ("Scores: 8 7", None), ("8 seven", None), ("9.5 10", (9.5, 10.0)), ("", None)])
def test_parse_scores_as_the_official_parse_score(review: str, expected: tuple[float, float] | None) -> None:
    assert parse_scores(review) == expected


def test_request_and_relative_scores(tmp_path: Path) -> None:
    data, preds = build(tmp_path)
    with FakeOpenAIServer(FakeJudge()) as server:
        report = score(data, preds, tmp_path / "out", server)
        bodies = {last_user_text(r.body).split("[Assistant 2]\n")[1].split("\n")[0]: r.body for r in server.requests}
        again = score(data, preds, tmp_path / "again", server)
        assert again["judge"]["stats"]["requests_sent"] == 1  # only the refused one is asked again
    body = bodies["s8_6"]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 1024 and body["model"] == "judge-model"
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "[Context]\nA photo number 0.\n\n[Question]\nDescribe picture 0.\n\n"
                                    "[Assistant 1]\nReference answer 0.\n\n[End of Assistant 1]\n\n"
                                    "[Assistant 2]\ns8_6\n\n[End of Assistant 2]\n\n"
                                    f"[System]\n{RULE}\n\n"}]
    pairs = {0: (8, 6), 1: (9, 9), 2: (7, 3.5), 3: (10, 8), 4: (-1, -1), 5: (-1, -1), 6: (8, 4)}
    category = {qid: cat for qid, cat, _ in ROWS}
    metrics = report["metrics"]
    assert metrics["relative"] == pytest.approx(oracle(list(pairs.values())))
    for name in ("conv", "detail", "complex"):
        assert metrics[name] == pytest.approx(oracle([p for q, p in pairs.items() if category[q] == name]))
    assert metrics["model_mean"] == pytest.approx(statistics.fmean(p[1] for p in pairs.values()))
    assert metrics["failed_judgements"] == 2.0
    assert report["counts"]["failures"] == {"judge_failed": 1, "judge_error": 1}
    assert report["judge"]["prompts"] == {"llava_bench": OFFICIAL_RULE_SHA256[:12]}
    assert report["summary"].startswith(f"LLaVA-Bench-in-the-Wild relative score {metrics['relative']:.1f}; conv ")
    line = read_jsonl(tmp_path / "out" / "predictions.jsonl")[4]
    assert line["answer"][0]["scores"] == [-1.0, -1.0] and line["answer"][0]["review"].startswith("8, 7")


def test_several_judge_runs(tmp_path: Path) -> None:
    data, preds = build(tmp_path)
    with FakeOpenAIServer(FakeJudge()) as server:
        report = score(data, preds, tmp_path / "out", server, "--judge-runs", "3")
    base = {0: (8, 6), 1: (9, 9), 2: (7, 3.5), 3: (10, 8), 4: (-1, -1), 5: (-1, -1)}
    runs = [oracle([*base.values(), (8, model)]) for model in (4, 6, 8)]  # "vary" differs per run
    assert report["metrics"]["relative"] == pytest.approx(statistics.fmean(runs))
    assert report["metrics"]["relative_std"] == pytest.approx(statistics.pstdev(runs))
    assert report["metrics"]["failed_judgements"] == 6.0
