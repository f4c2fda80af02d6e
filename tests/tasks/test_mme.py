"""MME: the official yes/no parser, LLaVA's prompt (pinned), pairing by image, acc/acc+ arithmetic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import mme_row, vlmeval, write_jsonl, write_parquet
from vlmeval.answers.yesno import mme_yes_no
from vlmeval.engine.samples import load_samples
from vlmeval.engine.scoring import score_answers
from vlmeval.engine.store import Answer
from vlmeval.errors import DataError
from vlmeval.metrics import Record, compute_metrics
from vlmeval.registry import load_registry
from vlmeval.task import ScoreContext, Task

SUFFIX = "Answer the question using a single word or phrase."
# lmms-lab/MME spells the categories like this (the official eval tool's task names).
CATEGORIES = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
              "artwork", "OCR", "commonsense_reasoning", "numerical_calculation", "text_translation",
              "code_reasoning")


def mme_task() -> Task:
    return load_registry().get("mme")


@pytest.mark.parametrize(
    ("answer", "parsed"),
    [
        ("Yes", "yes"), ("no", "no"), ("YES.", "yes"), ("No.", "no"), (" yes", "yes"),
        ("Yes, there is a dog.", "yes"), ("No, there is not.", "no"),
        ("Not really", "no"),  # "no" within the first four characters
        ("nope", "no"), ("None", "no"),
        ("There is no dog", "other"), ("I think yes", "other"), ("y", "other"), ("", "other"),
        ("Maybe", "other"),
    ],
)
def test_official_parser(answer: str, parsed: str) -> None:
    assert mme_yes_no(answer) == parsed


def test_prompt_matches_llava_including_the_double_space_quirk(tmp_path: Path) -> None:
    rows = [
        mme_row("000000055072.jpg", "Is there a brown giraffe in the image?  Please answer yes or no.", "Yes",
                "color"),  # one of the seven ground-truth questions with two spaces
        mme_row("000000055072.jpg", "Is there a black giraffe in the image? Please answer yes or no.", "No",
                "color"),
        mme_row("0014.png", "The image shows a python code. Is the output of the code '7'? "
                "Please answer yes or no.", "Yes", "code_reasoning"),
    ]
    samples = load_samples(mme_task(), str(write_parquet(tmp_path / "mme.parquet", rows)), None, None).samples
    assert [s.text for s in samples] == [
        f"Is there a brown giraffe in the image?\n{SUFFIX}",  # as in LLaVA's llava_mme.jsonl: no space left
        f"Is there a black giraffe in the image?\n{SUFFIX}",
        f"The image shows a python code. Is the output of the code '7'?\n{SUFFIX}",
    ]
    assert [s.id for s in samples] == ["0", "1", "2"]
    assert [s.target for s in samples] == ["yes", "no", "yes"]
    assert samples[0].meta["pair"] == samples[1].meta["pair"] == "color/000000055072.jpg"
    assert len(samples[0].images) == 1


def score_rows(tmp_path: Path, rows: list[dict[str, Any]], predictions: list[str]) -> list[Record]:
    task = mme_task()
    samples = load_samples(task, str(write_parquet(tmp_path / "mme.parquet", rows)), None, None).samples
    answers = {s.id: Answer(s.id, p) for s, p in zip(samples, predictions, strict=True)}
    return score_answers(task, samples, answers, ScoreContext())


def test_pairs_by_image_not_line_order_and_acc_plus_arithmetic(tmp_path: Path) -> None:
    def pair(image: str, category: str = "existence") -> tuple[dict[str, Any], dict[str, Any]]:
        return (mme_row(image, f"Is there a dog in {image}? Please answer yes or no.", "Yes", category),
                mme_row(image, f"Is there a cat in {image}? Please answer yes or no.", "No", category))

    e1, e2, e3, e4 = pair("e1.jpg"), pair("e2.jpg"), pair("e3.jpg"), pair("e4.jpg")
    c1, n1 = pair("0001.png", "code_reasoning"), pair("0001.png", "numerical_calculation")  # same file name
    # Rows in an order where taking consecutive lines as pairs would pair the wrong questions.
    rows = [e2[0], e3[0], e1[0], e1[1], e2[1], e3[1], e4[0], e4[1], c1[0], n1[0], c1[1], n1[1]]
    # e1 both right, e2 and e3 one each, e4 none; then code both right, numerical one.
    predictions = ["Yes", "Yes", "Yes", "No", "Yes", "Yes", "Maybe", "Yes",
                   "Yes", "Yes", "No", "Yes"]
    records = score_rows(tmp_path, rows, predictions)
    metrics = compute_metrics(mme_task().metrics, records)
    # existence: 4 of 8 questions (acc 50), 1 of 4 images (acc+ 25): 75 points, not line order's 100.
    assert metrics["existence_acc"] == pytest.approx(50.0)
    assert metrics["existence_acc_plus"] == pytest.approx(25.0)
    assert metrics["existence"] == pytest.approx(75.0)
    assert metrics["code_reasoning"] == pytest.approx(200.0)
    assert metrics["numerical_calculation"] == pytest.approx(50.0)
    assert metrics["perception"] == pytest.approx(75.0)
    assert metrics["cognition"] == pytest.approx(250.0)
    assert "count" not in metrics  # no questions, no number
    assert [r.failure for r in records].count("other") == 1  # "Maybe" is counted, and wrong
    assert records[6].answer == "other" and records[6].scores["correct"] == 0.0


def test_category_names_map_to_metric_names(tmp_path: Path) -> None:
    rows = [mme_row("1.jpg", "Is it? Please answer yes or no.", "Yes", "OCR")]
    sample = load_samples(mme_task(), str(write_parquet(tmp_path / "a.parquet", rows)), None, None).samples[0]
    assert sample.meta["subtask"] == "ocr" and sample.meta["category"] == "OCR"
    bad = write_parquet(tmp_path / "b.parquet", [mme_row("1.jpg", "Is it?", "Yes", "humour")])
    with pytest.raises(DataError, match="unknown MME category 'humour'"):
        load_samples(mme_task(), str(bad), None, None)


@pytest.mark.slow
def test_score_command_writes_the_report(tmp_path: Path) -> None:
    rows = []
    for category in CATEGORIES:
        rows += [mme_row(f"{category}.jpg", "Is it red? Please answer yes or no.", "Yes", category),
                 mme_row(f"{category}.jpg", "Is it blue? Please answer yes or no.", "No", category)]
    data = write_parquet(tmp_path / "MME" / "test-00000-of-00001.parquet", rows)
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": "Yes"} for i in range(28)])
    out = tmp_path / "O"
    result = vlmeval("score", "--task", "mme", "--predictions", str(predictions), "--data", str(data),
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    subtasks = [c.lower() for c in CATEGORIES]
    parts = ("", "_acc", "_acc_plus")
    expected = ["perception", "cognition", *(f"{s}{part}" for s in subtasks for part in parts)]
    assert list(report["metrics"]) == expected
    assert report["primary_metric"] == "perception"
    # Every image: the yes-question right, the no-question wrong: acc 50, acc+ 0, 50 points.
    assert report["metrics"]["perception"] == pytest.approx(500.0)
    assert report["metrics"]["cognition"] == pytest.approx(200.0)
    assert report["summary"] == "MME perception 500.00, cognition 200.00 (points; 28 questions)"
