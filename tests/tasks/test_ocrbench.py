"""OCRBench: the scoring loop of Yuliang-Liu/MultimodalOCR `OCRBench/example.py` (the same loop as
`scripts/LLaVA1_5.py`), re-written here over OCRBench.json-style items, against vlmeval's metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write_jsonl, write_parquet
from vlmeval.cli import main
from vlmeval.demo_data import image_cell, png_bytes
from vlmeval.engine.samples import load_samples
from vlmeval.registry import load_registry

RECOGNITION = ["Regular Text Recognition", "Irregular Text Recognition", "Artistic Text Recognition",
               "Handwriting Recognition", "Digit String Recognition", "Non-Semantic Text Recognition"]


def official_scores(data: list[dict[str, Any]]) -> dict[str, int]:
    """The script's loop (answers a string or a list; an item without `predict` is skipped)."""
    for item in data:
        answers, dataset_name = item["answers"], item["dataset_name"]
        if item.get("predict", 0) == 0:
            continue
        predict = item["predict"]
        item["result"] = 0
        if dataset_name == "HME100k":
            for answer in answers if isinstance(answers, list) else [answers]:
                answer = answer.strip().replace("\n", " ").replace(" ", "")
                predict = predict.strip().replace("\n", " ").replace(" ", "")
                if answer in predict:
                    item["result"] = 1
        else:
            for answer in answers if isinstance(answers, list) else [answers]:
                answer = answer.lower().strip().replace("\n", " ")
                predict = predict.lower().strip().replace("\n", " ")
                if answer in predict:
                    item["result"] = 1
    score: dict[str, int] = {}
    for item in data:
        if item.get("result", 100) == 100:
            continue
        score[item["type"]] = score.get(item["type"], 0) + item["result"]
    return score


# (source dataset, type, answers as in OCRBench.json, prediction or None for no `predict` key)
CASES: list[tuple[str, str, Any, str | None]] = [
    ("IIIT5K", "Regular Text Recognition", "CENTRE", "the word is centre."),
    ("svt", "Irregular Text Recognition", "HOTEL", "H O T E L"),
    ("WordArt", "Artistic Text Recognition", "Café", "CAFÉ"),
    ("IAM", "Handwriting Recognition", "might be", "might\nbe"),
    ("ORAND", "Digit String Recognition", "206", "1206 or 2060"),
    ("ORAND", "Digit String Recognition", "206", "２０６"),  # full-width digits: not folded
    ("NonSemanticText", "Non-Semantic Text Recognition", "xqzt", ""),
    ("STVQA", "Scene Text-centric VQA", ["pepsi", "Pepsi Cola"], "It says PEPSI"),
    ("docVQA", "Doc-oriented VQA", ["May 3"], "May\u00a03"),  # NBSP is not a space
    ("SROIE", "Key Information Extraction", ["39"], "total 39.00"),
    ("FUNSD", "Key Information Extraction", ["6mg"], None),
    ("HME100k", "Handwritten Mathematical Expression Recognition", "x ^ { 2 }", "$x^{2}$"),
    ("HME100k", "Handwritten Mathematical Expression Recognition", "X ^ { 2 }", "x^{2}"),  # case kept
    ("HME100k", "Handwritten Mathematical Expression Recognition", ["\\frac { a } { b }"], " \\frac{a}\n{b} "),
]


def rows() -> list[dict[str, Any]]:
    return [{"dataset": d, "question": f"q{i}", "question_type": t,
             "answer": a if isinstance(a, list) else [a], "image": image_cell(png_bytes())}
            for i, (d, t, a, _) in enumerate(CASES)]


def test_points_equal_the_ocrbench_script(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "ocrbench" / "test-00000-of-00001.parquet", rows())
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": p}
                                               for i, (_, _, _, p) in enumerate(CASES) if p is not None])
    out = tmp_path / "out"
    assert main(["score", "--task", "ocrbench", "--predictions", str(preds), "--data", str(data),
                 "--output", str(out)]) == 3  # the unanswered question leaves the report incomplete
    metrics = json.loads((out / "report.json").read_text(encoding="utf-8"))["metrics"]
    items = [{"dataset_name": d, "type": t, "answers": a, **({"predict": p} if p is not None else {})}
             for d, t, a, p in CASES]
    official = official_scores(items)
    assert [item.get("result") for item in items] == [1, 0, 1, 1, 1, 0, 0, 1, 0, 1, None, 1, 0, 1]
    recognition = sum(official.get(t, 0) for t in RECOGNITION)
    final = recognition + sum(v for t, v in official.items() if t not in RECOGNITION)
    assert metrics["text_recognition"] == recognition
    assert metrics["final_score"] == final
    assert metrics["digit_string_recognition"] == official["Digit String Recognition"]
    assert metrics["handwritten_mathematical_expression_recognition"] == 2
    assert metrics["key_information_extraction"] == 1
    assert metrics["accuracy"] == pytest.approx(100 * final / len(CASES))  # final / 10 on 1,000 questions


def test_prompt_variants_are_named_tasks(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "ocrbench" / "test-00000-of-00001.parquet", rows()[:1])
    registry = load_registry()
    bare = load_samples(registry.get("ocrbench"), str(data), None, None).samples[0]
    llava = load_samples(registry.get("ocrbench_llava"), str(data), None, None).samples[0]
    assert bare.text == "q0"
    assert llava.text == "q0\nAnswer the question using a single word or phrase."
    assert "bare-question" in registry.get("ocrbench").description
