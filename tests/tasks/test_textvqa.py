"""TextVQA: LLaVA-1.5's OCR-token prompt and the m4c TextVQAAccuracyEvaluator's arithmetic.

The oracle below redoes m4c's per-unique-answer leave-one-out loop on the EvalAIAnswerProcessor
transcribed in tests/tasks/test_official_oracles.py, never on vlmeval's `evalai_normalize`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import textvqa_row, write_jsonl, write_parquet
from tests.tasks.test_official_oracles import evalai_processor
from vlmeval.answers.vqa import vqa_score
from vlmeval.cli import main
from vlmeval.engine.samples import load_samples
from vlmeval.registry import load_registry

# (10 human answers, prediction): identical raw answers are still processed ("Two" -> "2"), unlike
# VQAv2's evaluator; punctuation, articles and case on both sides; partial agreement (1, 2, 3, 4).
CASES: list[tuple[list[str], str]] = [
    (["Two"] * 10, "2"),
    (["Coca-Cola"] * 4 + ["coca cola"] * 3 + ["coke"] * 3, "Coca Cola."),
    (["the nike"] + ["adidas"] * 9, "Nike"),
    (["stop", "stop", "STOP", "halt", "halt", "go", "go", "go", "go", "red"], "halt"),
    (["3:15"] * 5 + ["3.15"] * 5, "3:15"),
    (["yes"] * 10, ""),
    (["dont walk"] * 2 + ["don't walk"] * 8, "Dont walk"),
    (["1000"] * 2 + ["1,000"] * 2 + ["one thousand"] * 6, "1,000?"),
    (["dog's bowl"] * 3 + ["dogs bowl"] * 7, "Dog's bowl"),
    # Each of the processor's first replacements (",", "?", "'s") decides one of these.
    (["ab"] * 10, "a,b"),
    (["ab"] * 10, "a?b"),
    (["the dog's"] * 10, "dog 's"),
]


def oracle(prediction: str, raw_answers: list[str]) -> float:
    answers = [evalai_processor(a) for a in raw_answers]
    indexed = list(enumerate(answers))
    unique_scores = {}
    for unique in set(answers):
        accs = [min(1, len([o for o in indexed if o != gt and o[1] == unique]) / 3) for gt in indexed]
        unique_scores[unique] = sum(accs) / len(accs)
    return unique_scores.get(evalai_processor(prediction), 0.0)


def build(tmp_path: Path) -> tuple[Path, Path]:
    data = write_parquet(tmp_path / "textvqa" / "validation-00000-of-00001.parquet",
                         [textvqa_row(i, answers) for i, (answers, _) in enumerate(CASES)])
    preds = [{"id": str(34602 + i), "prediction": p} for i, (_, p) in enumerate(CASES)]
    return data, write_jsonl(tmp_path / "preds.jsonl", preds)


def test_prompt_carries_the_ocr_tokens(tmp_path: Path) -> None:
    data, _ = build(tmp_path)
    samples = load_samples(load_registry().get("textvqa_val"), str(data), None, None).samples
    assert samples[1].id == "34603"
    assert samples[1].text == ("What is written here 1?\nReference OCR token: STOP, cola, 3:15\n"
                               "Answer the question using a single word or phrase.")
    assert samples[0].text.split("\n")[1] == "Reference OCR token: "  # every question has the line


def test_accuracy_equals_the_m4c_oracle(tmp_path: Path) -> None:
    data, preds = build(tmp_path)
    out = tmp_path / "out"
    assert main(["score", "--task", "textvqa_val", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    expected = [oracle(p, answers) for answers, p in CASES]
    assert expected[0] == 1.0 and vqa_score("2", CASES[0][0]) == 0.0  # where the two evaluators differ
    assert report["metrics"]["accuracy"] == pytest.approx(100 * sum(expected) / len(expected))
    assert report["counts"]["failures"] == {"empty": 1}
    assert report["summary"].startswith(f"Samples: {len(CASES)}\nAccuracy: ")
