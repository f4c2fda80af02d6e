"""RealWorldQA: the lmms-eval v0.4 reading against an oracle re-written here from its source.

Oracle: EvolvingLMMs-Lab/lmms-eval@b7b4b1d9 (v0.4) `lmms_eval/tasks/realworldqa/utils.py`
(`NumberWordsToDigitsFilter`, `MultiChoiceRegexFilter.apply`, `realworldqa_process_results`), in the
order `realworldqa.yaml` applies them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from vlmeval_tasks.realworldqa import demo_rows

from tests.helpers import write_jsonl, write_parquet
from tests.answers.test_vlmevalkit import official_can_infer
from vlmeval.cli import main


def official(question: str, answer: str, response: str) -> bool:
    mapping = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
               "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
    resp = mapping.get(response.lower(), response)
    fallback_regexes, choice_to_alpha, next_alpha = [], {}, "A"
    for m in re.compile(r"\b([A-Z])\.\s+([^\n]*)").findall(question):
        choice_text = m[1].strip()
        fallback_regexes.append(f"{re.escape(choice_text)}")
        choice_to_alpha[choice_text] = next_alpha
        next_alpha = chr(ord(next_alpha) + 1)
    fallback_regex = re.compile("|".join(fallback_regexes))
    cleaned_resp = re.sub(r"[^\w\s]", "", resp).strip()
    match = fallback_regex.search(cleaned_resp)
    filtered = choice_to_alpha[match.group()] if match and match.group() in choice_to_alpha else cleaned_resp
    return filtered.lower().strip().rstrip(".") == answer.lower().strip()


RESPONSES = ["B", "b.", "B.", "(B)", "The tree", "the tree", "Tree", "The tree is closer", "A", "", "  ",
             "two", "Two", "2", "2.", "two lanes", "There are 2 lanes", "Yes", "yes", "No", "A. Yes", "C",
             "The car and the tree", "ten", "The sign.", "B)", "Answer: B", "The answer is B"]


def build(tmp_path: Path) -> tuple[list[dict[str, Any]], Path, Path]:
    base = demo_rows()
    rows = [dict(base[i % len(base)]) for i in range(len(RESPONSES))]
    rows.append({**base[0], "question": "Which?\nA. same\nB. same\nC. other\nPlease answer directly.", "answer": "B"})
    responses = [*RESPONSES, "same"]
    data = write_parquet(tmp_path / "rwqa" / "test-00000-of-00001.parquet", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": p} for i, p in enumerate(responses)])
    return rows, data, preds


def run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    _, data, preds = build(tmp_path)
    out = tmp_path / "out"
    assert main(["score", "--task", "realworldqa", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out), *extra]) == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_default_reading_equals_lmms_eval_v04(tmp_path: Path) -> None:
    rows = build(tmp_path)[0]
    report = run(tmp_path)
    right = [official(r["question"], r["answer"], p) for r, p in zip(rows, [*RESPONSES, "same"], strict=True)]
    assert 0 < sum(right) < len(right) and right[-1]  # a repeated option text maps to its last letter
    assert report["metrics"]["accuracy"] == pytest.approx(100 * sum(right) / len(right))
    assert report["answer_reading"]["name"] == "lmms-eval-v0.4"


def test_vlmevalkit_reading(tmp_path: Path) -> None:
    rows = build(tmp_path)[0]
    report = run(tmp_path, "--answer-reading", "vlmevalkit")
    right = []
    for row, response in zip(rows, [*RESPONSES, "same"], strict=True):
        texts = [t.strip() for _, t in re.findall(r"\b([A-Z])\.\s+([^\n]*)", row["question"])]
        if texts:
            right.append(official_can_infer(response, dict(zip("ABCDE", texts))) == row["answer"])
        else:
            right.append(response.lower().strip().rstrip(".") == row["answer"].lower().strip())
    assert report["metrics"]["accuracy"] == pytest.approx(100 * sum(right) / len(right))
