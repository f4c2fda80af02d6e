"""MathVista testmini against the official two steps, re-written here.

Oracle: lupantech/MathVista@53d52587 `evaluation/extract_answer.py` (`extract_answer`,
`create_test_prompt`; quick extract off) and `evaluation/calculate_score.py` at e999481e
(`normalize_extracted_answer` with `ignore_empty_extractions`, `get_most_similar`, `safe_equal`), with an
independent edit distance in place of python-Levenshtein's `distance`. The LLM is a fake server that
extracts by a fixed table, and the oracle reads the same table.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from vlmeval_tasks.mathvista import demo_rows

from tests.fakes.openai_server import FakeOpenAIServer, last_user_text
from tests.helpers import read_jsonl, write_jsonl, write_parquet
from vlmeval_tasks._mathvista_reading import DEMO_PROMPT
from vlmeval.cli import main
from vlmeval.judge import prompt_hash

# sha256 of `demo_prompt` as the official module defines it at 53d52587 (evaluation/prompts/ext_ans.py)
OFFICIAL_DEMO_PROMPT_SHA256 = "a231722ced09cbd1f3fd16630ab58bf487f12e2f46ea0b26d1f2f6b5c50fb17c"


def distance(a: str, b: str) -> int:
    @cache
    def d(i: int, j: int) -> int:
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def extract_answer(response: str, problem: dict[str, Any], llm: Any) -> str:
    question_type, answer_type, choices = problem["question_type"], problem["answer_type"], problem["choices"]
    if response == "":
        return ""
    if question_type == "multi_choice" and response in choices:
        return response
    if answer_type == "integer":
        try:
            return str(int(response))
        except Exception:
            pass
    if answer_type == "float":
        try:
            return str(float(response))
        except Exception:
            pass
    full_prompt = f"{DEMO_PROMPT.strip()}\n\n{problem['query']}\n\n{response}\n\nExtracted answer: "
    return llm(full_prompt)


def get_most_similar(prediction: str, choices: list[str]) -> str:
    distances = [distance(prediction, choice) for choice in choices]
    return choices[distances.index(min(distances))]


def normalize_extracted_answer(extraction: Any, choices: Any, question_type: str, answer_type: str,
                               precision: Any, ignore_empty_extractions: bool = True) -> Any:
    if question_type == "multi_choice":
        extraction = extraction.strip() if isinstance(extraction, str) else str(extraction)
        if ignore_empty_extractions and not extraction:
            return None
        letter = re.findall(r"\(([a-zA-Z])\)", extraction)
        if len(letter) > 0:
            extraction = letter[0].upper()
        sequential_characters = [chr(ord("A") + i) for i in range(len(choices))]
        if extraction in sequential_characters:
            return choices[sequential_characters.index(extraction)]
        return get_most_similar(extraction, choices)
    if answer_type == "integer":
        try:
            return str(int(float(extraction)))
        except Exception:
            return None
    if answer_type == "float":
        try:
            return str(round(float(extraction), int(precision)))
        except Exception:
            return None
    if answer_type == "list":
        return str(extraction)
    return None


# (row of demo_rows, response, what the fake LLM extracts when asked)
CASES = [
    (0, "102", None), (0, "B", "B"), (0, "(C) 107", "(C) 107"), (0, "The answer is D", "D"), (0, "", None),
    (0, "I think 101", "101"), (0, "none of them", ""), (0, "97", None), (0, "b", "b"), (0, "(a)", "(a)"),
    (1, "3", None), (1, " 3 ", None), (1, "3.0", "3.0"), (1, "three", "3"), (1, "There are 3.", "3"),
    (1, "-0.5", "-0.5"), (1, "1e3", "1000"), (1, "", None), (1, "I don't know", "I don't know"),
    (2, "1.45", None), (2, "1.449", None), (2, "1.4", None), (2, "$1.45", "1.45"), (2, "1.454", None),
    (2, "It costs 1.45 dollars", "1.45"), (2, "1.45e0", None), (2, "nan", None),
]


def build(tmp_path: Path) -> tuple[list[dict[str, Any]], Path, Path]:
    base = demo_rows()
    rows = [{**base[row], "pid": str(100 + i)} for i, (row, _, _) in enumerate(CASES)]
    data = write_parquet(tmp_path / "MathVista" / "testmini-00000-of-00001.parquet", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(100 + i), "prediction": c[1]} for i, c in enumerate(CASES)])
    return rows, data, preds


def table_llm(prompt: str) -> str:
    response = prompt.rsplit("\n\nExtracted answer: ", 1)[0].rsplit("\n\n", 1)[1]
    extracted = {c[1]: c[2] for c in CASES if c[2] is not None}
    return extracted[response]


def official_correct(rows: list[dict[str, Any]], llm: Any) -> list[bool]:
    right = []
    for row, (_, response, _) in zip(rows, CASES, strict=True):
        extraction = extract_answer(response, row, llm)
        prediction = normalize_extracted_answer(extraction, row["choices"], row["question_type"], row["answer_type"],
                                                row["precision"])
        right.append(prediction == row["answer"])
    return right


def score(tmp_path: Path, *extra: str) -> dict[str, Any]:
    _, data, preds = build(tmp_path)
    out = tmp_path / "out"
    assert main(["score", "--task", "mathvista_testmini", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out), *extra]) == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_demo_prompt_is_the_official_one_byte_for_byte() -> None:
    assert hashlib.sha256(DEMO_PROMPT.encode("utf-8")).hexdigest() == OFFICIAL_DEMO_PROMPT_SHA256


def test_with_llm_extraction_equals_the_official_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLMEVAL_CACHE", str(tmp_path / "cache"))
    rows = build(tmp_path)[0]
    with FakeOpenAIServer(lambda body, headers: table_llm(last_user_text(body))) as server:
        report = score(tmp_path, "--judge", "extractor", "--judge-base-url", server.base_url,
                       "--judge-api-key-env", "NO_SUCH_KEY")
        bodies = [r.body for r in server.requests]
    right = official_correct(rows, table_llm)
    assert 0 < sum(right) < len(right)
    assert report["metrics"]["accuracy"] == pytest.approx(100 * sum(right) / len(right))
    assert len(bodies) == sum(c[2] is not None for c in CASES)
    assert all(b["temperature"] == 0 and b["max_tokens"] == 1024 for b in bodies)
    assert report["judge"]["model"] == "extractor" and report["answer_reading"]["official"]
    assert report["judge"]["prompts"] == {"mathvista-ext_ans": prompt_hash(DEMO_PROMPT)}
    by_skill = report["breakdown"]["skills"]
    assert by_skill["arithmetic reasoning"]["n"] == sum(c[0] in (1, 2) for c in CASES)
    assert by_skill["geometry reasoning"]["n"] == by_skill["algebraic reasoning"]["n"] == sum(c[0] == 0 for c in CASES)
    assert report["metrics"]["nearest_choice"] == 2.0  # the extractions "101" and "b" (no letter: lower case)


def test_without_a_judge_unreadable_answers_are_counted(tmp_path: Path) -> None:
    rows = build(tmp_path)[0]

    report = score(tmp_path)
    # the official steps where its rules extract; every answer that needs the LLM is a miss here
    right = [ok and case[2] is None for ok, case in zip(official_correct(rows, table_llm), CASES, strict=True)]
    assert 0 < sum(right)
    assert report["metrics"]["accuracy"] == pytest.approx(100 * sum(right) / len(right))
    needs = sum(c[2] is not None for c in CASES)
    assert report["counts"]["failures"]["needs_judge"] == needs
    records = read_jsonl(tmp_path / "out" / "predictions.jsonl")
    assert all(r["scores"]["correct"] == 0.0 for r in records if r["failure"] == "needs_judge")
