"""MM-Vet end to end against a fake OpenAI-compatible judge on 127.0.0.1.

The fake judge reads the row it is asked to complete and answers by the prediction's name, so each
test scripts exactly the judge behaviour it needs (a score, a retry, a reply that never parses).
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import os
import statistics
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from vlmeval_tasks.mmvet import DIGIT_SUFFIX, JUDGE_PROMPT, parse_capabilities, parse_score

from tests.fakes.openai_server import FakeOpenAIServer, FakeResponse, RecordedRequest, last_user_text
from tests.helpers import mmvet_row, png_bytes, read_jsonl, vlmeval, write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.errors import DataError
from vlmeval.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
# sha256 of the `prompt` string of yuweihao/MM-Vet mm-vet_evaluator.py (2,290 characters), taken
# from the official file independently of tasks/mmvet.py.
OFFICIAL_PROMPT_SHA256 = "d1b3e0a5b4e72c888b77164489d705bba4dd149934fff564dfba6443d81afe3f"

# question_id, question, answer, capability (hub form), prediction; the fake judge's score for the
# "pXY" predictions is X.Y. Scores: rec 1.0, 0.2, 0.0, 0.4; ocr 0.5, 0.2, 0.9; spat 0.2, 0.9; math 0.5.
ROWS = [
    ("v1_0", "How many apples?", "5", "rec", "p10"),
    ("v1_1", "What is x in the equation?", "-1<AND>-5", "ocr,math", "p05"),
    ("v1_2", "What is left of the lamp?", "table lamp<OR>desk lamp", "rec,spat,ocr", "p02"),
    ("v1_3", "Explain the meme.", "It mocks online classes.", "gen,know,rec", "p00"),
    ("v1_4", "What is to the right of the shampoo?", "conditioner", "ocr,spat", "p09"),
    ("v1_5", "Is this apple organic?", "yes", "rec", "p04"),
]


def write_case(folder: Path, rows: list[tuple[str, str, str, str, str]] = ROWS) -> tuple[Path, Path]:
    data = write_parquet(folder / "mmvet" / "test-00000-of-00001.parquet",
                         [mmvet_row(*row[:4]) for row in rows])
    predictions = write_jsonl(folder / "preds.jsonl", [{"id": r[0], "prediction": r[4]} for r in rows])
    return data, predictions


class FakeJudge:
    """Answers by prediction: `pXY` -> "X.Y"; `retry`: prose, then a digit; `never`: never a number;
    `vary`: 0.2, 0.5, 0.8 on successive identical requests; `boom`: HTTP 400."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, body: dict, headers: Mapping[str, str]) -> str | FakeResponse:
        text = last_user_text(body)
        assert text.startswith(JUDGE_PROMPT + "\n")
        _question, _truth, prediction, tail = text[len(JUDGE_PROMPT) + 1:].split(" | ")
        assert tail in ("", DIGIT_SUFFIX)
        with self.lock:
            self.seen[text] += 1
            nth = self.seen[text]
        if prediction.startswith("p") and prediction[1:].isdigit():
            return f"{prediction[1]}.{prediction[2]}"
        if prediction == "retry":
            return "Correct answer" if not tail else "0.7"
        if prediction == "never":
            return "N/A"
        if prediction == "vary":
            return ["0.2", "0.5", "0.8"][min(nth, 3) - 1]
        if prediction == "boom":
            return FakeResponse.error(400, "content filter")
        raise AssertionError(f"unexpected prediction {prediction!r}")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("VLMEVAL_CACHE", str(cache))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return cache


@pytest.fixture()
def judge_server() -> Any:
    with FakeOpenAIServer(FakeJudge()) as server:
        yield server


def score(data: Path, predictions: Path, out: Path, server: FakeOpenAIServer, *extra: str,
          expect: int = 0) -> dict[str, Any]:
    code = main(["score", "--task", "mmvet", "--predictions", str(predictions), "--data", str(data),
                 "--output", str(out), "--judge", "judge-model", "--judge-base-url", server.base_url,
                 "--judge-api-key-env", "NO_KEY_FOR_TESTS", *extra])
    assert code == expect
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def contents(requests: list[RecordedRequest]) -> list[str]:
    return [last_user_text(r.body) for r in requests]


def test_judge_prompt_is_the_official_one_byte_for_byte() -> None:
    assert hashlib.sha256(JUDGE_PROMPT.encode("utf-8")).hexdigest() == OFFICIAL_PROMPT_SHA256
    assert JUDGE_PROMPT.startswith("Compare the ground truth and prediction from AI models, to give")
    assert JUDGE_PROMPT.endswith("their actual physical characteristics. | 1.0\n")
    assert JUDGE_PROMPT.count("\n") == 11  # instruction + blank line, header, rule, seven example rows


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("0.5", 0.5), ("1.0", 1.0), ("0", 0.0), ("0.8 because", 0.8), ("0.3\n", 0.3),
     (" 0.5", None),  # split(" ")[0] is "": the official parser fails on a leading space
     ("1.5", None), ("-0.1", None), ("nan", None), ("Correct", None), ("", None)],
)
def test_parse_score(reply: str, expected: float | None) -> None:
    assert parse_score(reply) == expected


def test_capabilities_from_string_or_list() -> None:
    assert parse_capabilities("spat,ocr, rec", "v1_2") == ("rec", "ocr", "spat")
    assert parse_capabilities(["math", "ocr"], "v1_1") == ("ocr", "math")
    with pytest.raises(DataError, match="v1_9"):
        parse_capabilities("rec,vision", "v1_9")


def test_samples_have_the_bare_question_and_question_ids(tmp_path: Path) -> None:
    data, _ = write_case(tmp_path)
    samples = load_samples(load_registry().get("mmvet"), str(data), None, None).samples
    assert [s.id for s in samples] == [r[0] for r in ROWS]
    assert samples[1].text == "What is x in the equation?" and samples[1].target == "-1<AND>-5"
    assert samples[2].meta == {"capability": ["rec", "ocr", "spat"], "capabilities": "rec_ocr_spat"}
    assert len(samples[0].images) == 1


def test_exact_request_and_capability_arithmetic(tmp_path: Path, judge_server: FakeOpenAIServer) -> None:
    data, predictions = write_case(tmp_path)
    report = score(data, predictions, tmp_path / "out", judge_server)

    requests = judge_server.requests
    assert len(requests) == len(ROWS)
    by_prediction = {text.split(" | ")[-2]: r.body for text, r in zip(contents(requests), requests)}
    body = by_prediction["p05"]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0 and body["max_tokens"] == 3
    assert body["messages"] == [{"role": "user", "content": JUDGE_PROMPT
                                 + "\nWhat is x in the equation? | -1 <AND> -5 | p05 | "}]
    assert by_prediction["p02"]["messages"][0]["content"].endswith(
        "\nWhat is left of the lamp? | table lamp <OR> desk lamp | p02 | ")

    metrics = report["metrics"]
    expected = {"total": 300 / 6, "rec": 160 / 4, "ocr": 160 / 3, "know": 0.0, "gen": 0.0,
                "spat": 110 / 2, "math": 50.0, "failed_judgements": 0.0}
    assert metrics == pytest.approx(expected)
    assert report["metrics_n"]["ocr"] == 3 and report["metrics_n"]["total"] == 6
    assert not any(name.endswith("_std") for name in metrics)  # one judge run: no spread
    groups = report["breakdown"]["capabilities"]
    expected_groups = {"rec": (70.0, 2), "ocr_math": (50.0, 1), "rec_ocr_spat": (20.0, 1),
                       "rec_know_gen": (0.0, 1), "ocr_spat": (90.0, 1)}
    assert set(groups) == set(expected_groups)
    for name, (total, n) in expected_groups.items():
        # pytest >= 9 refuses approx on nested containers: compare field by field.
        assert groups[name]["total"] == pytest.approx(total) and groups[name]["n"] == n, name
    assert report["judge"]["model"] == "judge-model"
    assert report["judge"]["prompts"] == {"mmvet": OFFICIAL_PROMPT_SHA256[:12]}
    assert report["summary"].startswith("MM-Vet total 50.0; rec 40.0, ocr 53.3")
    assert "failed judgements: 0" in report["summary"]
    lines = read_jsonl(tmp_path / "out" / "predictions.jsonl")
    assert lines[1]["scores"] == {"score": 0.5, "score_run0": 0.5, "failed_judgements": 0.0}
    assert lines[1]["answer"] == [{"score": 0.5, "replies": ["0.5"], "error": None}]


def test_retry_never_parsing_and_judge_errors(tmp_path: Path, judge_server: FakeOpenAIServer) -> None:
    rows = [("v1_0", "Q0", "a", "rec", "retry"), ("v1_1", "Q1", "b", "ocr", "never"),
            ("v1_2", "Q2", "c", "rec,ocr", "p10"), ("v1_3", "Q3", "d", "math", "boom")]
    data, predictions = write_case(tmp_path, rows)
    # A judge request that failed (v1_3) leaves the result incomplete: exit 3, re-run to retry it.
    report = score(data, predictions, tmp_path / "out", judge_server, expect=3)
    assert report["complete"] is False

    def sent(question: str) -> list[tuple[str, float]]:
        return [(last_user_text(r.body), r.body["temperature"]) for r in judge_server.requests
                if f"\n{question} | " in last_user_text(r.body)]

    plain = JUDGE_PROMPT + "\nQ0 | a | retry | "
    assert sent("Q0") == [(plain, 0.0), (plain + DIGIT_SUFFIX, 0.0)]  # the retry is at 0.0
    never = JUDGE_PROMPT + "\nQ1 | b | never | "
    assert sent("Q1") == [(never, 0.0)] + [(never + DIGIT_SUFFIX, t) for t in (0.0, 0.5, 1.0, 1.5)]
    lines = {line["id"]: line for line in read_jsonl(tmp_path / "out" / "predictions.jsonl")}
    assert lines["v1_0"]["scores"]["score"] == 0.7 and lines["v1_0"]["failure"] is None
    assert lines["v1_0"]["answer"][0]["replies"] == ["Correct answer", "0.7"]
    assert lines["v1_1"]["failure"] == "judge_failed" and lines["v1_1"]["scores"]["score"] == 0.0
    assert lines["v1_1"]["answer"][0]["replies"] == ["N/A"] * 5
    assert lines["v1_3"]["failure"] == "judge_error" and "content filter" in lines["v1_3"]["answer"][0]["error"]
    # the official tool writes 0.0 for a failed judgement: the number stays comparable, the count shows
    assert report["metrics"]["total"] == pytest.approx(170 / 4)
    assert report["metrics"]["failed_judgements"] == 2.0
    assert report["counts"]["failures"] == {"judge_error": 1, "judge_failed": 1}
    assert "failed judgements: 2" in report["summary"]

    # Re-scoring: every reply the judge gave is cached; only the request that errored is sent again.
    before = len(judge_server.requests)
    again = score(data, predictions, tmp_path / "out2", judge_server, expect=3)
    assert [last_user_text(r.body) for r in judge_server.requests[before:]] == [
        JUDGE_PROMPT + "\nQ3 | d | boom | "]
    assert again["metrics"] == report["metrics"]
    assert again["judge"]["stats"]["requests_sent"] == 1


def test_cached_rescoring_sends_nothing(tmp_path: Path, judge_server: FakeOpenAIServer) -> None:
    data, predictions = write_case(tmp_path)
    first = score(data, predictions, tmp_path / "a", judge_server)
    sent = len(judge_server.requests)
    second = score(data, predictions, tmp_path / "b", judge_server)
    assert len(judge_server.requests) == sent
    assert second["metrics"] == first["metrics"]
    assert second["judge"]["stats"] == {"queries": len(ROWS), "cache_hits": len(ROWS), "requests_sent": 0,
                                        "failures": 0}


def test_several_judge_runs(tmp_path: Path, judge_server: FakeOpenAIServer) -> None:
    rows = [*ROWS[:3], ("v1_9", "Describe it.", "a cat", "rec,gen", "vary")]
    data, predictions = write_case(tmp_path, rows)
    report = score(data, predictions, tmp_path / "out", judge_server, "--judge-runs", "3")
    assert len(judge_server.requests) == 3 * len(rows)  # distinct runs: the cache does not copy run 0

    others = 1.0 + 0.5 + 0.2
    totals = [100 * (others + v) / 4 for v in (0.2, 0.5, 0.8)]
    gens = [100 * v for v in (0.2, 0.5, 0.8)]
    metrics = report["metrics"]
    assert metrics["total"] == pytest.approx(statistics.fmean(totals))
    assert metrics["total_std"] == pytest.approx(statistics.pstdev(totals))
    assert metrics["gen"] == pytest.approx(50.0) and metrics["gen_std"] == pytest.approx(statistics.pstdev(gens))
    assert metrics["ocr_std"] == pytest.approx(0.0)
    line = read_jsonl(tmp_path / "out" / "predictions.jsonl")[3]
    assert sorted(line["scores"][f"score_run{k}"] for k in range(3)) == [0.2, 0.5, 0.8]
    assert f"(std {statistics.pstdev(totals):.1f} over judge runs)" in report["summary"]

    sent = len(judge_server.requests)
    assert score(data, predictions, tmp_path / "again", judge_server, "--judge-runs", "3")["metrics"] == metrics
    one = score(data, predictions, tmp_path / "one", judge_server)  # run 0 alone, from the cache
    assert len(judge_server.requests) == sent
    assert one["metrics"]["total"] == pytest.approx(100 * (others + line["scores"]["score_run0"]) / 4)
    score(data, predictions, tmp_path / "four", judge_server, "--judge-runs", "4")
    assert len(judge_server.requests) == sent + len(rows)  # only the new run is asked


def test_without_a_judge_generation_runs_then_scoring_stops(
    tmp_path: Path, judge_server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data, predictions = write_case(tmp_path)
    run = ["run", "--task", "mmvet", "--model", f"replay:{predictions}", "--data", str(data),
           "--output", str(tmp_path / "res"), "--run-name", "m", "--no-progress"]
    assert main(run) == 2
    error = capsys.readouterr().err
    assert "mmvet is scored by an LLM judge and none was given" in error and "gpt-4-0613" in error
    run_dir = tmp_path / "res" / "m" / "mmvet"
    assert list((run_dir / "answers").glob("*.jsonl")) and not (run_dir / "report.json").exists()
    assert judge_server.requests == []

    predictions.rename(tmp_path / "gone.jsonl")  # nothing is generated again: the answers are kept
    judge = ["--judge", "judge-model", "--judge-base-url", judge_server.base_url]
    assert main([*run, *judge]) == 0
    assert json.loads((run_dir / "report.json").read_text())["metrics"]["total"] == pytest.approx(50.0)


@pytest.mark.slow
def test_cli_score_writes_report_and_never_leaks_the_key(tmp_path: Path, isolated_cache: Path) -> None:
    data, predictions = write_case(tmp_path)
    key = "sk-test-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:24]
    env = {**os.environ, "OPENAI_API_KEY": key, "VLMEVAL_CACHE": str(isolated_cache)}
    out = tmp_path / "out"
    with FakeOpenAIServer(FakeJudge()) as server:
        done = vlmeval("-v", "score", "--task", "mmvet", "--predictions", str(predictions), "--data", str(data),
                       "--output", str(out), "--judge", "judge-model", "--judge-base-url", server.base_url,
                       env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["total"] == pytest.approx(50.0)
    assert {r.headers.get("authorization") for r in server.requests} == {f"Bearer {key}"}
    written = [p for p in itertools.chain(out.rglob("*"), isolated_cache.rglob("*")) if p.is_file()]
    assert len(written) >= 4  # report.json, report.md, predictions.jsonl, the judge cache
    for path in written:
        assert key.encode() not in path.read_bytes(), path
    assert key not in done.stdout + done.stderr


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("mmvet_official", REPO / "scripts" / "mmvet_official.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_official_json_release_converts_to_the_hub_schema(tmp_path: Path) -> None:
    folder = tmp_path / "mm-vet"
    (folder / "images").mkdir(parents=True)
    entries = {}
    for question_id, question, answer, capability, _ in ROWS[:3]:
        (folder / "images" / f"{question_id}.png").write_bytes(png_bytes())
        entries[question_id] = {"imagename": f"{question_id}.png", "capability": capability.split(","),
                                "question": question, "answer": answer}
    (folder / "mm-vet.json").write_text(json.dumps(entries), encoding="utf-8")
    (tmp_path / "results.json").write_text(json.dumps({r[0]: r[4] for r in ROWS[:3]}), encoding="utf-8")
    script = load_script()
    assert script.main(["data", str(folder), str(tmp_path / "mmvet.parquet")]) == 0
    assert script.main(["predictions", str(tmp_path / "results.json"), str(tmp_path / "p.jsonl")]) == 0

    samples = load_samples(load_registry().get("mmvet"), str(tmp_path / "mmvet.parquet"), None, None).samples
    assert [(s.id, s.text, s.target, s.meta["capabilities"]) for s in samples] == [
        ("v1_0", "How many apples?", "5", "rec"),
        ("v1_1", "What is x in the equation?", "-1<AND>-5", "ocr_math"),
        ("v1_2", "What is left of the lamp?", "table lamp<OR>desk lamp", "rec_ocr_spat")]
    assert samples[2].images[0].load().size == (32, 32)
    assert read_jsonl(tmp_path / "p.jsonl")[1] == {"id": "v1_1", "prediction": "p05"}
